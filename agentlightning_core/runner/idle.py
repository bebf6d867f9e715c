"""Waiting for work without busy polling, and waking fast when it arrives.

With an event bus that sees the store's events (the in-process bus of a Trainer, or Redis shared
with a server), an idle runner sleeps until a ``rollout.enqueued`` event — or a rollout going back
to ``queued`` for a retry — arrives, re-checking the queue now and then in case an event was lost.
Without one (a runner talking to a remote server over HTTP) it polls with a short exponential
backoff, so a burst of work is picked up within ``max_backoff`` seconds at worst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..bus.base import EventBus, Subscription
from ..types import EventType, RolloutStatus, Topic
from .aio import wait_event

log = logging.getLogger(__name__)


class WorkSignal:
    """Tells an idle dispatcher when to look at the queue again."""

    def __init__(
        self,
        bus: EventBus | None = None,
        *,
        min_backoff: float = 0.005,
        max_backoff: float = 0.25,
        bus_recheck: float = 1.0,
    ) -> None:
        if min_backoff <= 0 or max_backoff < min_backoff:
            raise ValueError(
                f"idle backoff needs 0 < min_backoff <= max_backoff (got {min_backoff}, {max_backoff})"
            )
        self.bus = bus
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.bus_recheck = bus_recheck
        self._backoff = min_backoff
        self._event = asyncio.Event()
        self._subscription: Subscription | None = None
        self._listener: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """True while bus events wake us (so waits are long); False when we poll."""
        return self._listener is not None and not self._listener.done()

    async def start(self) -> None:
        if self.bus is None:
            return
        try:
            self._subscription = self.bus.subscribe([Topic.ROLLOUTS])
            await self._subscription.ready()
        except Exception as exc:  # a bus that cannot subscribe: poll instead, say so once
            log.warning("runner: cannot subscribe to rollout events (%s); polling the queue instead", exc)
            self._subscription = None
            return
        self._listener = asyncio.create_task(self._listen(self._subscription), name="runner-work-signal")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.close()
            self._subscription = None

    async def _listen(self, subscription: Subscription) -> None:
        queued = RolloutStatus.QUEUED.value
        try:
            while True:
                event = await subscription.get()
                if event is None:
                    continue
                if event.type == EventType.ROLLOUT_ENQUEUED or event.payload.get("status") == queued:
                    self._event.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the bus went away: fall back to polling rather than sleeping long
            log.warning("runner: rollout event subscription failed (%s); polling the queue instead", exc)

    def arm(self) -> None:
        """Call right before looking at the queue: a signal after this point ends the next wait."""
        self._event.clear()

    def found_work(self) -> None:
        """The queue had something: the next idle period starts with a short wait again."""
        self._backoff = self.min_backoff

    def poke(self) -> None:
        """End the current wait now (stop requested, a slot freed, ...)."""
        self._event.set()

    async def wait(self) -> None:
        """Wait until work may be there: an event, a poke, or the backoff/recheck period."""
        timeout = self.bus_recheck if self.listening else self._backoff
        await wait_event(self._event, timeout)
        if not self.listening:
            self._backoff = min(self._backoff * 2, self.max_backoff)
