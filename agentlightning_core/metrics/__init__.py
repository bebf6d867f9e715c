"""Where logged metrics go: the :class:`MetricSink` interface, the built-in ``metrics.jsonl``
sink, and the fan-out that keeps one failing sink from stopping training.

Sinks are plugins (hook ``agl_register_metric_sinks``): ``tensorboard``, ``mlflow`` and ``wandb``
come in their own distributions. A run picks them with ``Trainer(metric_sinks=[...])`` or
``AGL_METRIC_SINKS=tensorboard,mlflow``; ``jsonl`` (``metrics.jsonl`` + ``config.json`` in the
run's output directory) is always on.
"""

from __future__ import annotations

from .base import MetricSink, RunInfo, flatten, numeric_items
from .fanout import METRIC_SINKS_ENV, MetricSinks, resolve_metric_sinks
from .jsonl import JsonlSink

__all__ = [
    "METRIC_SINKS_ENV",
    "JsonlSink",
    "MetricSink",
    "MetricSinks",
    "RunInfo",
    "flatten",
    "numeric_items",
    "resolve_metric_sinks",
]
