"""Entry point ``redis`` of group ``agentlightning``: registers the bus, imports nothing heavy."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"redis": None, "pydantic_settings": None}


@needs("agentlightning-redis", DRIVERS, what="event bus 'redis'")
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
