"""Agent Lightning event bus on Redis Streams (``EVENT_BUS_BACKEND=redis``)."""

from typing import TYPE_CHECKING, Any

from .settings import RedisBusSettings

if TYPE_CHECKING:
    from .bus import RedisEventBus


def __getattr__(name: str) -> Any:
    # the bus imports the driver: loaded on first use, so the entry point (``.plugin``) loads
    # without it and a missing driver is reported by the factory with the pip command
    if name == "RedisEventBus":
        from .bus import RedisEventBus

        return RedisEventBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RedisBusSettings", "RedisEventBus"]
