"""Event buses: how state changes travel between store, trainer, runners and dashboard."""

from .base import EventBus, QueueSubscription, Subscription
from .memory import InMemoryEventBus
from .open import open_event_bus

__all__ = ["EventBus", "InMemoryEventBus", "QueueSubscription", "Subscription", "open_event_bus"]
