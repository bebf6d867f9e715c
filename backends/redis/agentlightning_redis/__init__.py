"""Agent Lightning event bus on Redis Streams (``EVENT_BUS_BACKEND=redis``)."""

from .bus import RedisEventBus
from .settings import RedisBusSettings

__all__ = ["RedisBusSettings", "RedisEventBus"]
