"""What one ``ctx.log_metrics`` call costs the training loop, per metric sink: open (once per
run), one call of 20 metrics (median and p95 of 200), close. The calls run on the trainer's event
loop, so this is time the loop is blocked.

Reproduce (every installed sink; files in a temporary folder, W&B offline)::

    .venv/bin/python benchmarks/metric_sinks.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentlightning_core.metrics import MetricSinks, RunInfo
from agentlightning_core.plugin_manager import AglPluginManager

CALLS = 200
METRICS = {f"train/metric_{i:02d}": float(i) for i in range(20)}


def options(name: str, base: Path) -> dict[str, object]:
    every: dict[str, dict[str, object]] = {
        "jsonl": {"output_dir": base},
        "tensorboard": {"log_dir": base / "tb"},
        "mlflow": {"tracking_uri": f"sqlite:///{base / 'mlflow.db'}"},
        "wandb": {"dir": base, "mode": "offline"},
    }
    return every.get(name, {})


def measure(name: str, base: Path) -> str:
    sink = AglPluginManager().metric_sink_factory(name)(**options(name, base))
    sinks = MetricSinks([sink])
    start = time.perf_counter()
    sinks.open(RunInfo(base, "bench", {"algorithm": {"name": "bench"}, "data": {"train": 1}}))
    opened = time.perf_counter() - start
    times = []
    for step in range(CALLS):
        t = time.perf_counter()
        sinks.log_metrics(METRICS, step, time.time())
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    sinks.close()
    closed = time.perf_counter() - t
    if sinks.failures:
        return f"{name:12s} FAILED: {sinks.failures[name]}"
    times.sort()
    return (
        f"{name:12s} open {opened * 1e3:9.1f} ms   log_metrics median {statistics.median(times) * 1e3:7.3f} ms"
        f"  p95 {times[int(len(times) * 0.95)] * 1e3:7.3f} ms   close {closed * 1e3:8.1f} ms"
    )


def main() -> None:
    os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min)")
    print(f"{CALLS} calls of {len(METRICS)} metrics each")
    names = AglPluginManager().registry("agl_register_metric_sinks").names()
    for name in ["jsonl", *[n for n in names if n != "jsonl"]]:
        with tempfile.TemporaryDirectory(prefix=f"agl-sink-{name}-") as tmp:
            print(measure(name, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
