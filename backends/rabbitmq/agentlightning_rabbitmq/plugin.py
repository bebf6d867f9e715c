"""Entry point ``rabbitmq`` of group ``agentlightning``: registers the bus, imports nothing heavy."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"aio_pika": None, "aiormq": None, "pydantic_settings": None}


@needs("agentlightning-rabbitmq", DRIVERS, what="event bus 'rabbitmq'")
def _rabbitmq_bus() -> Any:
    from .bus import RabbitMQEventBus

    return RabbitMQEventBus.from_env()


@hookimpl
def agl_register_event_buses(register: Register) -> None:
    register(
        "rabbitmq",
        _rabbitmq_bus,
        description="RabbitMQ topic exchange; durable queues on request; keeps no history",
    )
