"""Entry point ``redis`` of group ``agentlightning``: registers the bus, imports nothing heavy."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def _redis_bus() -> Any:
    from .bus import RedisEventBus

    return RedisEventBus.from_env()


@hookimpl
def agl_register_event_buses(register: Register) -> None:
    register(
        "redis",
        _redis_bus,
        description="Redis Streams: ordered per topic, bounded history, resumes after a server restart",
    )
