"""Entry point ``wandb``: registers the sink; wandb is imported only when a run opens it."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"wandb": None}


@needs("agentlightning-wandb", DRIVERS, what="metric sink 'wandb'")
def _sink(**options: Any) -> Any:
    from .sink import WandbSink

    return WandbSink(**options)


@hookimpl
def agl_register_metric_sinks(register: Register) -> None:
    register("wandb", _sink, description="a W&B run; offline (nothing sent) unless WANDB_MODE=online")
