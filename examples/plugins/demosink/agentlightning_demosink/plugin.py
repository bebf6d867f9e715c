"""The plugin module the entry point names: registrations only, nothing heavy at import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register

if TYPE_CHECKING:
    from agentlightning_core.metrics import MetricSink


def make_demosink(**options: Any) -> MetricSink:
    """The sink, built with ``Trainer(metric_sink_options={"demosink": {...}})``."""
    from .sink import DemosinkSink

    return DemosinkSink(**options)


@hookimpl
def agl_register_metric_sinks(register: Register) -> None:
    register("demosink", make_demosink, description="demosink metric sink (from agl new-plugin metric-sink)")
