"""The shared metric-sink suite against real offline W&B runs (the wandb-core service runs), read
back from the run's ``.wandb`` transaction log; plus offline-by-default and step handling."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from agentlightning_wandb import OfflineRun, WandbSink, read_offline_run

from agentlightning_core.metrics import MetricSinks, RunInfo, flatten
from agentlightning_core.testing import MetricSinkConformance, Recorded

INTERNAL = {"_step", "_timestamp", "_runtime"}


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the machine's W&B settings, these tests run offline and report no errors."""
    for name in ("WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_ERROR_REPORTING", "false")


def newest_run(base_dir: Path) -> OfflineRun:
    """The newest offline run under ``base_dir``, once W&B's service has written its exit record
    (``finish`` may return a moment before the file is complete)."""
    runs = sorted((base_dir / "wandb").glob("offline-run-*"))
    assert runs, f"no offline run under {base_dir}"
    deadline = time.monotonic() + 20
    while True:
        run = read_offline_run(runs[-1])
        if run.exit_code is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def recorded(run: OfflineRun) -> Recorded:
    scalars: dict[str, list[tuple[int, float]]] = {}
    for row in run.history:
        for key, value in flatten({k: v for k, v in row.items() if k not in INTERNAL}).items():
            if isinstance(value, (int, float)):
                scalars.setdefault(key, []).append((row["_step"], float(value)))
    config = {k: str(v) for k, v in flatten(run.config).items() if not k.startswith("_wandb")}
    return Recorded(scalars=scalars, config=config)


class TestWandbConformance(MetricSinkConformance):
    sink_name = "wandb"
    reports_write_failures = False  # W&B writes in its own service process

    def sink_options(self, base_dir: Path) -> dict[str, Any]:
        return {"dir": base_dir, "project": "conformance"}

    def read_back(self, base_dir: Path) -> Recorded:
        return recorded(newest_run(base_dir))


def test_offline_is_the_default_and_the_run_names_come_from_the_trainer(tmp_path: Path) -> None:
    sink = WandbSink(dir=tmp_path)
    sinks = MetricSinks([sink])
    sinks.open(RunInfo(tmp_path, "20261204-120000", {"algorithm": {"name": "apo"}}))
    sinks.log_metrics({"val/reward_mean": 0.5, "note": "text is kept"}, 0, 0.0)
    sinks.close(RuntimeError("crashed"))
    assert sinks.failures == {}
    assert sink.run_dir is not None and sink.run_dir.name.startswith("offline-run-")
    run = newest_run(tmp_path)
    assert run.name == "20261204-120000" and run.exit_code == 1
    assert run.history[0]["note"] == "text is kept" and run.config["algorithm"] == {"name": "apo"}


def test_steps_that_go_back_are_kept_at_the_next_step_not_dropped(tmp_path: Path) -> None:
    sinks = MetricSinks([WandbSink(dir=tmp_path)])
    sinks.open(RunInfo(tmp_path, "r"))
    for step, value in [(5, 1.0), (5, 2.0), (3, 3.0), (None, 4.0)]:
        sinks.log_metrics({f"v{int(value)}": value}, step, 0.0)
    sinks.close()
    rows = newest_run(tmp_path).history
    steps = {k: row["_step"] for row in rows for k in row if k.startswith("v")}
    assert steps == {"v1": 5, "v2": 5, "v3": 6, "v4": 7}


def test_an_unknown_mode_is_one_warning_naming_the_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "ofline")
    sinks = MetricSinks([WandbSink(dir=tmp_path)])
    sinks.open(RunInfo(tmp_path, "r"))
    sinks.log_metrics({"x": 1.0}, 0, 0.0)
    sinks.close()
    assert "'ofline' is unknown; use 'offline' (default)" in sinks.failures["wandb"]


def test_a_damaged_run_file_is_reported(tmp_path: Path) -> None:
    from agentlightning_wandb.offline import CorruptRunFile

    sinks = MetricSinks([WandbSink(dir=tmp_path)])
    sinks.open(RunInfo(tmp_path, "r"))
    sinks.log_metrics({"x": 1.0}, 0, 0.0)
    sinks.close()
    newest_run(tmp_path)
    (path,) = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptRunFile, match="checksum mismatch"):
        read_offline_run(path)
