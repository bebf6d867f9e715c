"""The in-process event bus: subscribers in this process only, bounded history per topic."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence

from ..types import Event
from .base import EventBus, QueueSubscription, Subscription


class _DurableGroup:
    """The open members of one durable name and what was published while none was open."""

    def __init__(self, backlog_size: int) -> None:
        self.topics: set[str] = set()
        self.members: list[QueueSubscription] = []
        self.backlog: deque[Event] = deque(maxlen=backlog_size)
        self.turn = itertools.count()


class InMemoryEventBus(EventBus):
    name = "memory"
    supports_history = True
    publish_may_wait = False

    def __init__(self, *, history_size: int = 1000, max_payload_bytes: int | None = None) -> None:
        super().__init__(**({"max_payload_bytes": max_payload_bytes} if max_payload_bytes else {}))
        self.history_size = history_size
        self._subscribers: dict[str, list[QueueSubscription]] = {}
        self._history: dict[str, deque[Event]] = {}
        self._durable: dict[str, _DurableGroup] = {}

    async def publish(self, event: Event) -> Event:
        self.encode(event)  # validation: same rules as the networked backends
        self._history.setdefault(event.topic, deque(maxlen=self.history_size)).append(event)
        for subscription in self._subscribers.get(event.topic, ()):
            subscription.queue.put_nowait(event)
        for group in self._durable.values():
            if event.topic in group.topics:
                self._dispatch(group, event)
        return event

    @staticmethod
    def _dispatch(group: _DurableGroup, event: Event) -> None:
        """One open member of the name gets it (in turn), or the name keeps it for later."""
        takers = [m for m in group.members if event.topic in m.topics]
        if takers:
            takers[next(group.turn) % len(takers)].queue.put_nowait(event)
        else:
            group.backlog.append(event)

    def subscribe(self, topics: Sequence[str], *, durable: str | None = None) -> Subscription:
        subscription = QueueSubscription(topics, on_close=self._unsubscribe)
        if durable is not None:
            self.check_durable_name(durable)
            group = self._durable.setdefault(durable, _DurableGroup(self.history_size))
            group.topics.update(topics)
            group.members.append(subscription)
            subscription.durable = durable  # type: ignore[attr-defined]
            kept = [e for e in group.backlog if e.topic in subscription.topics]
            taken = {id(e) for e in kept}
            group.backlog = deque((e for e in group.backlog if id(e) not in taken), maxlen=self.history_size)
            for event in kept:
                subscription.queue.put_nowait(event)
            return subscription
        for topic in dict.fromkeys(topics):
            self._subscribers.setdefault(topic, []).append(subscription)
        return subscription

    def _unsubscribe(self, subscription: QueueSubscription) -> None:
        durable = getattr(subscription, "durable", None)
        if durable is not None:
            group = self._durable[durable]
            group.members.remove(subscription)
            # events handed to this member but never read go back to the name, not to waste
            while not subscription.queue.empty():
                self._dispatch(group, subscription.queue.get_nowait())
            return
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
