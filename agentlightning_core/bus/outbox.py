"""The store's outbox: events leave a store operation without the operation waiting on the bus.

A store operation commits and answers; the event it caused goes into this bounded queue, and one
background task publishes the queue in order. While the bus is down (a Redis or RabbitMQ
restart) nothing on the request path waits for it: the task retries with backoff, events wait
here, and the store's waiters (``wait_for_rollouts``) poll the store instead of the bus. When
the queue is full, the oldest events are dropped and counted (``dropped``): an event only tells
a waiter to look again, and a waiter that polls finds the state without it.

The log gets one warning when publishing starts failing (no traceback) and one line when the bus
takes events again, with how long it was gone and how many events waited or were dropped.

Each published event's wait here goes to a :class:`~.meter.PublishMeter` (the store's), which
tells the bus's lag and throughput; :meth:`Outbox.statistics` adds how long the oldest waiting
event has waited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from ..types import Event
from .backoff import Backoff
from .meter import PublishMeter

if TYPE_CHECKING:
    from .base import EventBus

log = logging.getLogger(__name__)

#: events an outbox holds before it drops the oldest (a store sets its own bound with
#: ``LightningStore.outbox_max_events``)
DEFAULT_MAX_EVENTS = 10_000


class Outbox:
    """A bounded FIFO of events and the task that publishes them on ``bus``."""

    def __init__(
        self, bus: EventBus, *, max_events: int = DEFAULT_MAX_EVENTS, meter: PublishMeter | None = None
    ) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1 (got {max_events})")
        self.bus = bus
        self.max_events = max_events
        self.delivered = 0
        self.dropped = 0
        self.outages = 0
        #: queued events, each with the monotonic time it was queued at
        self._events: deque[tuple[Event, float]] = deque()
        #: where each published event's wait here is recorded
        self.meter = meter if meter is not None else PublishMeter()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._outage_since: float | None = None
        self._dropped_in_outage = 0

    @property
    def pending(self) -> int:
        return len(self._events)

    @property
    def in_outage(self) -> bool:
        """True from the first failed publish until the bus takes an event again."""
        return self._outage_since is not None

    def statistics(self) -> dict[str, Any]:
        """Counters, and ``oldest_pending_ms``: how long the event at the head of the queue has
        waited (0 when empty; it grows during an outage)."""
        head = self._events[0][1] if self._events else None
        return {
            "pending": self.pending,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "outages": self.outages,
            "in_outage": self.in_outage,
            "oldest_pending_ms": 0.0 if head is None else round((time.monotonic() - head) * 1000, 3),
        }

    def put(self, event: Event) -> None:
        """Queue ``event``; never waits. A full outbox drops its oldest event."""
        if len(self._events) >= self.max_events:
            self._events.popleft()
            self.dropped += 1
            self._dropped_in_outage += 1
        self._events.append((event, time.monotonic()))
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=f"outbox-{self.bus.name}")

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued event is published, at most ``timeout`` seconds; True if so."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 2.0) -> None:
        """Publish what is queued (for ``timeout`` seconds at most), then stop."""
        if self._task is None:
            return
        if self._events and not await self.flush(timeout):
            log.warning(
                "event bus %s: %d events were not published before the store closed",
                self.bus.name,
                len(self._events),
            )
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _drain(self) -> None:
        backoff = Backoff(initial=0.1, maximum=2.0)
        while True:
            if not self._events:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            entry = self._events[0]
            event, queued_at = entry
            try:
                await self.bus.publish(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bus is down or refusing: wait, keep the event, try again
                self._start_outage(exc)
                await asyncio.sleep(backoff.next())
                continue
            if self._events and self._events[0] is entry:  # not dropped meanwhile by a full outbox
                self._events.popleft()
            self.delivered += 1
            published_at = time.monotonic()
            self.meter.record(published_at - queued_at, now=published_at)
            backoff.reset()
            if self._outage_since is not None:
                self._end_outage()

    def _start_outage(self, exc: BaseException) -> None:
        if self._outage_since is not None:
            return
        self._outage_since = time.monotonic()
        self._dropped_in_outage = 0
        self.outages += 1
        log.warning(
            "event bus %s unavailable (%s: %s); store operations go on, events wait in the outbox "
            "(at most %d, then the oldest are dropped) and waiters poll the store",
            self.bus.name,
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
            self.max_events,
        )

    def _end_outage(self) -> None:
        assert self._outage_since is not None
        log.warning(
            "event bus %s is back after %.1fs; sending the %d waiting events (%d dropped while it was down)",
            self.bus.name,
            time.monotonic() - self._outage_since,
            len(self._events) + 1,
            self._dropped_in_outage,
        )
        self._outage_since = None
