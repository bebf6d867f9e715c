"""Entry point ``rabbitmq`` of group ``agentlightning``: registers the bus, imports nothing heavy."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


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
