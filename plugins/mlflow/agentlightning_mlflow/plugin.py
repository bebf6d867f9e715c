"""Entry point ``mlflow``: registers the sink; MLflow is imported only when a run opens it."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"mlflow": None, "sqlalchemy": None, "alembic": None}


@needs("agentlightning-mlflow", DRIVERS, what="metric sink 'mlflow'")
def _sink(**options: Any) -> Any:
    from .sink import MLflowSink

    return MLflowSink(**options)


@hookimpl
def agl_register_metric_sinks(register: Register) -> None:
    register("mlflow", _sink, description="an MLflow run (MLFLOW_TRACKING_URI; default sqlite:///mlflow.db)")
