"""Entry point ``tensorboard``: registers the sink; tensorboardX is imported only when a run opens it."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"tensorboardX": None}


@needs("agentlightning-tensorboard", DRIVERS, what="metric sink 'tensorboard'")
def _sink(**options: Any) -> Any:
    from .sink import TensorBoardSink

    return TensorBoardSink(**options)


@hookimpl
def agl_register_metric_sinks(register: Register) -> None:
    register("tensorboard", _sink, description="TensorBoard event files (<output_dir>/tensorboard)")
