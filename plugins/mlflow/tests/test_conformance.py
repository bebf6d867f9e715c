"""The shared metric-sink suite against a real sqlite tracking store, read back with MlflowClient;
plus a file store, a failed run, and config values that change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentlightning_core.metrics import MetricSinks, RunInfo
from agentlightning_core.testing import MetricSinkConformance, Recorded


def read_store(uri: str) -> tuple[Any, Recorded]:
    """The newest run of the store and what it holds."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiments = client.search_experiments()
    (run,) = client.search_runs(
        [e.experiment_id for e in experiments], order_by=["start_time DESC"], max_results=1
    )
    scalars = {
        key: [
            (m.step, m.value)
            for m in sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
        ]
        for key in run.data.metrics
    }
    return run, Recorded(scalars=scalars, config=dict(run.data.params))


class TestMLflowConformance(MetricSinkConformance):
    sink_name = "mlflow"

    @pytest.fixture(autouse=True)
    def _template(self, seed_db: Callable[[Path], None]) -> None:
        self.seed_db = seed_db

    def sink_options(self, base_dir: Path) -> dict[str, Any]:
        self.seed_db(base_dir)
        return {"tracking_uri": f"sqlite:///{base_dir / 'mlflow.db'}", "experiment": "conformance"}

    def read_back(self, base_dir: Path) -> Recorded:
        return read_store(f"sqlite:///{base_dir / 'mlflow.db'}")[1]


def test_a_file_store_refused_by_mlflow_is_one_warning_naming_the_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentlightning_mlflow import MLflowSink

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    sinks = MetricSinks([MLflowSink(tracking_uri=(tmp_path / "mlruns").as_uri())])
    sinks.open(RunInfo(tmp_path, "r", {"lr": 0.1}))
    sinks.log_metrics({"loss": 2.0}, 0, 1_700_000_000.0)
    sinks.close()
    assert "MLFLOW_ALLOW_FILE_STORE=true" in sinks.failures["mlflow"]


def test_a_file_store_works_when_allowed_and_a_failed_run_is_marked_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentlightning_mlflow import MLflowSink

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    sinks = MetricSinks([MLflowSink(tracking_uri=uri, experiment="files", tags={"team": "rl"})])
    sinks.open(RunInfo(tmp_path, "crashed", {"lr": 0.1}))
    sinks.log_metrics({"loss": 2.0}, 0, 1_700_000_000.0)
    sinks.close(RuntimeError("diverged"))
    assert sinks.failures == {}
    run, recorded = read_store(uri)
    assert run.info.status == "FAILED" and run.info.run_name == "crashed"
    assert run.data.tags["team"] == "rl" and run.data.tags["agentlightning.output_dir"] == str(tmp_path)
    assert recorded.scalars == {"loss": [(0, 2.0)]} and recorded.config == {"lr": "0.1"}


def test_a_config_value_that_changes_goes_to_tags_and_odd_keys_are_made_legal(
    tmp_path: Path, seed_db: Callable[[Path], None]
) -> None:
    from agentlightning_mlflow import MLflowSink

    seed_db(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sinks = MetricSinks([MLflowSink(tracking_uri=uri)])
    sinks.open(RunInfo(tmp_path, "resumed", {"step": 0, "model": "a"}))
    sinks.log_config({"step": 40, "model": "a"})
    sinks.log_metrics({"reward@k=1": 0.5, "loss (smoothed)": 1.0}, None, 1_700_000_000.0)
    sinks.close()
    assert sinks.failures == {}
    run, recorded = read_store(uri)
    assert run.info.status == "FINISHED"
    assert recorded.config == {"step": "0", "model": "a"} and run.data.tags["config.step"] == "40"
    assert recorded.scalars == {"reward_k_1": [(0, 0.5)], "loss _smoothed_": [(0, 1.0)]}
