"""Agent Lightning event bus on RabbitMQ (``EVENT_BUS_BACKEND=rabbitmq``)."""

from .bus import RabbitMQEventBus
from .settings import RabbitMQSettings

__all__ = ["RabbitMQEventBus", "RabbitMQSettings"]
