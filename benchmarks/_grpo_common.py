"""Shared pieces of the GRPO benchmarks: the environment, the model directory, TRL glue."""

from __future__ import annotations

import os

from agentlightning_transformers.compute import configure_openmp

# Before torch loads: bounded spinning of the OpenMP workers (agentlightning_transformers/compute.py).
configure_openmp()
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import statistics
import subprocess
import sys
from typing import Any


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
