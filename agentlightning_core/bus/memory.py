"""The in-process event bus: subscribers in this process only, bounded history per topic."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from ..types import Event
from .base import EventBus, QueueSubscription, Subscription


class InMemoryEventBus(EventBus):
    name = "memory"
    supports_history = True

    def __init__(self, *, history_size: int = 1000, max_payload_bytes: int | None = None) -> None:
        super().__init__(**({"max_payload_bytes": max_payload_bytes} if max_payload_bytes else {}))
        self.history_size = history_size
        self._subscribers: dict[str, list[QueueSubscription]] = {}
        self._history: dict[str, deque[Event]] = {}

    async def publish(self, event: Event) -> Event:
        self.encode(event)  # validation: same rules as the networked backends
        self._history.setdefault(event.topic, deque(maxlen=self.history_size)).append(event)
        for subscription in self._subscribers.get(event.topic, ()):
            subscription.queue.put_nowait(event)
        return event

    def subscribe(self, topics: Sequence[str]) -> Subscription:
        subscription = QueueSubscription(topics, on_close=self._unsubscribe)
        for topic in dict.fromkeys(topics):
            self._subscribers.setdefault(topic, []).append(subscription)
        return subscription

    def _unsubscribe(self, subscription: QueueSubscription) -> None:
        for topic in subscription.topics:
            subs = self._subscribers.get(topic, [])
            if subscription in subs:
                subs.remove(subscription)

    async def get_event_history(self, topic: str, limit: int = 100, since: str | None = None) -> list[Event]:
        events = list(self._history.get(topic, ()))
        if since is not None:
            ids = [e.event_id for e in events]
            events = events[ids.index(since) + 1 :] if since in ids else events
        return events[-limit:] if limit > 0 else []

    async def clear_event_history(self, topic: str) -> None:
        self._history.pop(topic, None)
