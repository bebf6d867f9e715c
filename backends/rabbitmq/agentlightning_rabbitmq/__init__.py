"""Agent Lightning event bus on RabbitMQ (``EVENT_BUS_BACKEND=rabbitmq``)."""

from typing import TYPE_CHECKING, Any

from .settings import RabbitMQSettings

if TYPE_CHECKING:
    from .bus import RabbitMQEventBus


def __getattr__(name: str) -> Any:
    # the bus imports the driver: loaded on first use, so the entry point (``.plugin``) loads
    # without it and a missing driver is reported by the factory with the pip command
    if name == "RabbitMQEventBus":
        from .bus import RabbitMQEventBus

        return RabbitMQEventBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RabbitMQEventBus", "RabbitMQSettings"]
