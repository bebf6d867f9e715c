"""Entry point ``mlflow``: registers the sink; MLflow is imported only when a run opens it."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def _sink(**options: Any) -> Any:
    from .sink import MLflowSink

    return MLflowSink(**options)


@hookimpl
def agl_register_metric_sinks(register: Register) -> None:
    register("mlflow", _sink, description="an MLflow run (MLFLOW_TRACKING_URI; default sqlite:///mlflow.db)")
