"""Shared pieces of the GRPO benchmarks: the environment, the model directory, TRL glue."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from typing import Any

from agentlightning_transformers.compute import configure_openmp

# Before torch loads: bounded spinning of the OpenMP workers (agentlightning_transformers/compute.py).
configure_openmp()
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_average() -> str:
    try:
        return open("/proc/loadavg").read().split(" ")[0]
    except OSError:
        return "?"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def need_trl() -> Any:
    try:
        import trl
    except ImportError:
        sys.exit(
            "TRL is a benchmark-only dependency: run `make bench-deps` (pip install -e 'algorithms/grpo[bench]')"
        )
    return trl


def command_line() -> str:
    return " ".join([".venv/bin/python", *sys.argv])


def git_rev() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"


def run_sides_apart(names: list[str], argv: list[str]) -> dict[str, Any]:
    """Run each side (``--only NAME``) in a process of its own and collect the JSON it prints last.

    Why: torch's OpenMP runtime slows down for good once a process holds a second team of threads
    (see agentlightning_transformers/compute.py), so the side that ran second in a shared process
    would pay for the first one's threads.
    """
    import json

    out: dict[str, Any] = {}
    for name in names:
        cmd = [sys.executable, sys.argv[0], *argv, "--only", name, "--json-result"]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        for ln in lines[:-1]:
            print(ln, flush=True)
        if proc.returncode != 0 or not lines:
            sys.exit(f"{name}: the benchmark process failed (exit {proc.returncode})")
        out[name] = json.loads(lines[-1])
    return out
