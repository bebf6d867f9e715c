"""``MLflowSink``: one MLflow run per training run, through ``MlflowClient``.

The client API, not ``mlflow.start_run``: the fluent API keeps a process-global "active run",
which would clash with a user's own MLflow run in the same process (or two Trainers). Metrics
are sent with ``log_batch`` (one call per ``log_metrics``), the config as params (flattened with
``.``). MLflow params cannot change once set, so a config key logged again with a new value (an
algorithm's ``ctx.log_config`` after a resume) goes to the run's tags as ``config.<key>``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from agentlightning_core.metrics import MetricSink, RunInfo, flatten, numeric_items

DEFAULT_EXPERIMENT = "agentlightning"
#: MLflow's limits on one param value and one log_batch call
PARAM_CHARS = 6000
BATCH_METRICS = 1000
BATCH_PARAMS = 100
_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. /:]")


def _key(name: str) -> str:
    """MLflow accepts letters, digits, ``_ - . / :`` and spaces in names; anything else is ``_``."""
    return _BAD_KEY.sub("_", name)[:250] or "_"


class MLflowSink(MetricSink):
    """Record a run in MLflow.

    :param tracking_uri: where runs are stored: ``sqlite:///path/mlflow.db``, ``file:///path``,
        or a tracking server's ``http(s)://`` URL. Default: MLflow's own choice
        (``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the working directory).
    :param experiment: the experiment's name (created if missing); default
        ``MLFLOW_EXPERIMENT_NAME``, else ``agentlightning``.
    :param run_name: default the run's output directory name (``runs/<timestamp>``).
    :param tags: extra run tags.
    """

    name: ClassVar[str] = "mlflow"

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.run_id: str | None = None
        self._client: Any = None
        self._params: dict[str, str] = {}
        self._steps = 0

    def open(self, run: RunInfo) -> None:
        try:
            import mlflow
            from mlflow.tracking import MlflowClient
        except ImportError as exc:  # pragma: no cover - the distribution depends on it
            raise ImportError(
                "the mlflow metric sink needs MLflow: pip install agentlightning-mlflow"
            ) from exc
        uri = self.tracking_uri or mlflow.get_tracking_uri()
        self.tracking_uri = uri
        self._client = MlflowClient(tracking_uri=uri)
        name = self.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        experiment = self._client.get_experiment_by_name(name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            try:
                experiment_id = self._client.create_experiment(name)
            except Exception:  # created by a concurrent run in between
                found = self._client.get_experiment_by_name(name)
                if found is None:
                    raise
                experiment_id = found.experiment_id
        tags = {"agentlightning.output_dir": str(run.output_dir), **self.tags}
        created = self._client.create_run(experiment_id, run_name=self.run_name or run.name, tags=tags)
        self.run_id = created.info.run_id
        self._params = {}
        self._steps = 0

    def log_config(self, config: Mapping[str, Any]) -> None:
        from mlflow.entities import Param, RunTag

        params, tags = [], []
        for key, value in flatten(config, sep=".").items():
            name, text = _key(key), str(value)[:PARAM_CHARS]
            if name not in self._params:
                params.append(Param(name, text))
                self._params[name] = text
            elif self._params[name] != text:
                tags.append(RunTag(f"config.{name}", text))
        for i in range(0, len(params), BATCH_PARAMS):
            self._client.log_batch(self.run_id, params=params[i : i + BATCH_PARAMS])
        if tags:
            self._client.log_batch(self.run_id, tags=tags)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None, timestamp: float) -> None:
        from mlflow.entities import Metric

        at = step if step is not None else self._steps
        self._steps = max(self._steps, at + 1)
        ms = int(timestamp * 1000)
        batch = [Metric(_key(key), value, ms, at) for key, value in numeric_items(metrics)]
        for i in range(0, len(batch), BATCH_METRICS):
            self._client.log_batch(self.run_id, metrics=batch[i : i + BATCH_METRICS])

    def close(self, error: BaseException | None = None) -> None:
        if self._client is not None and self.run_id is not None:
            self._client.set_terminated(self.run_id, "FAILED" if error is not None else "FINISHED")
        self._client = None
