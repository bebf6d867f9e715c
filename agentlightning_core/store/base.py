"""The store interface every backend implements (memory, HTTP client, SQL, MongoDB, ...).

Semantics all backends share (pinned by ``tests/conformance``):

* ``dequeue_rollout`` is FIFO by enqueue order and atomic: concurrent dequeuers never receive
  the same rollout. A requeued rollout (a retry) goes to the head of the queue, ahead of every
  rollout never tried; retries among themselves keep enqueue order.
* Finishing the *latest* attempt of a rollout decides the rollout: ``succeeded`` ends it;
  ``failed``/``timeout``/``unresponsive`` requeue it while ``config.max_attempts`` allows and
  the status is in ``config.retry_on``, else fail it (default: 3 attempts, retried on
  ``timeout`` and ``unresponsive``).
* Fencing: heartbeats, spans and status updates from an attempt that is no longer its rollout's
  live one (a newer attempt exists, it timed out, it is unresponsive with its rollout final, or
  the rollout was cancelled) raise ``AttemptSupersededError`` (409) and change nothing, so a
  rollout has at most one succeeded attempt (:func:`~.transitions.check_live`).
* An ``unresponsive`` attempt that reports again (heartbeat, span or status) while it is still
  the latest attempt and its rollout is not final is revived: attempt and rollout are running
  again and the rollout leaves the queue. ``timeout`` is terminal.
* Spans of one attempt get increasing ``sequence_id`` in arrival order unless the sender set
  one; late spans of an attempt its own runner finished are still stored. ``(rollout_id,
  attempt_id, span_id)`` is unique: a span sent again is answered with the stored copy.
* Events go out after the change, through the store's outbox for a networked bus: a bus
  outage never delays a store operation (see ``bus/outbox.py``).
* The watchdog (``sweep``) ends attempts past ``timeout_seconds`` (``timeout``) or silent
  longer than ``unresponsive_seconds`` (``unresponsive``), so nothing waits on a dead runner.
  A rollout that sets no ``unresponsive_seconds`` gets the store's
  ``default_unresponsive_seconds`` (``AGL_DEFAULT_UNRESPONSIVE_SECONDS``, 300 s; ``None``/``off``
  opts out), decided in :func:`~.transitions.overdue_status` for every backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..bus.meter import PublishMeter
from ..errors import InvalidRequestError, NotFoundError
from ..pagination import Page
from ..types import (
    Attempt,
    AttemptedRollout,
    AttemptStatus,
    Event,
    EventType,
    Resource,
    ResourcesUpdate,
    Rollout,
    RolloutConfig,
    RolloutMode,
    RolloutRequest,
    RolloutStatus,
    Span,
    Topic,
    Worker,
)

if TYPE_CHECKING:
    from ..bus.base import EventBus
    from ..bus.outbox import Outbox

#: how often a waiter polls the store while the bus is down (events may not come)
POLL_DURING_BUS_OUTAGE = 0.5

log = logging.getLogger(__name__)

LATEST = "latest"
AttemptSelector = str | Literal["latest"] | None


class UseEnvironment(enum.Enum):
    """Type of :data:`FROM_ENVIRONMENT` (``None`` already means "no limit")."""

    FROM_ENVIRONMENT = "from-environment"


#: a store's ``default_unresponsive_seconds`` argument left to ``AGL_DEFAULT_UNRESPONSIVE_SECONDS``
FROM_ENVIRONMENT = UseEnvironment.FROM_ENVIRONMENT


class LightningStore(ABC):
    """Asynchronous store of rollouts, attempts, spans, resources and workers."""

    #: seconds between watchdog sweeps; backends and tests may lower it
    watchdog_interval: float = 1.0
    #: safety re-check period of ``wait_for_rollouts`` when events may come from another process
    wait_recheck_interval: float = 5.0
    #: events the outbox holds while the bus is down before it drops the oldest (see ``bus/outbox.py``)
    outbox_max_events: int = 10_000

    def __init__(
        self, *, default_unresponsive_seconds: float | None | UseEnvironment = FROM_ENVIRONMENT
    ) -> None:
        self.bus: EventBus | None = None
        self._outbox: Outbox | None = None
        #: lag and throughput of this store's events on its bus (the dashboard's backends page)
        self.bus_meter = PublishMeter()
        self._watchdog_task: asyncio.Task[None] | None = None
        self._started = False
        self._default_unresponsive_seconds: float | None = None
        if isinstance(default_unresponsive_seconds, UseEnvironment):
            # imported on use: pydantic-settings stays out of ``import agentlightning_core``
            from ..settings import default_unresponsive_seconds as from_environment

            default_unresponsive_seconds = from_environment()
        self.default_unresponsive_seconds = default_unresponsive_seconds

    @property
    def default_unresponsive_seconds(self) -> float | None:
        """Heartbeat limit for attempts of rollouts whose config sets no ``unresponsive_seconds``.

        From ``AGL_DEFAULT_UNRESPONSIVE_SECONDS`` (300 s unless set) when the store is built;
        ``None`` turns it off, and then such attempts are never ended by the watchdog. Keep it
        several times the runners' heartbeat interval (5 s by default). A store whose watchdog
        runs elsewhere (``HttpStore``) does not use it: the server's store's value applies.
        """
        return self._default_unresponsive_seconds

    @default_unresponsive_seconds.setter
    def default_unresponsive_seconds(self, value: float | None) -> None:
        if value is not None and not value > 0:
            raise InvalidRequestError(
                f"default_unresponsive_seconds must be > 0 seconds or None for no limit (got {value!r})"
            )
        self._default_unresponsive_seconds = value

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect, migrate, and start the watchdog. Idempotent."""
        if self._started:
            return
        self._started = True
        if self.runs_watchdog:
            self._watchdog_task = asyncio.create_task(
                self._watchdog_loop(), name=f"{type(self).__name__}-watchdog"
            )

    async def close(self) -> None:
        self._started = False
        if self._watchdog_task is not None:
            self._watchdog_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watchdog_task
            self._watchdog_task = None
        if self._outbox is not None:
            outbox, self._outbox = self._outbox, None
            await outbox.close()

    @property
    def outbox(self) -> Outbox | None:
        """Where this store's events wait for a bus that may be down; ``None`` until the first
        event on such a bus (the in-process bus is published on directly)."""
        return self._outbox

    @property
    def bus_in_outage(self) -> bool:
        """True while the bus refuses events: waiters then poll the store."""
        return self._outbox is not None and self._outbox.in_outage

    async def __aenter__(self) -> LightningStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def started(self) -> bool:
        """True between :meth:`start` and :meth:`close`."""
        return self._started

    @property
    def runs_watchdog(self) -> bool:
        """False for stores whose watchdog runs elsewhere (the HTTP client: the server runs it)."""
        return True

    async def _watchdog_loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed sweep must not kill the watchdog; the next one retries
                log.exception("store watchdog sweep failed")
            await asyncio.sleep(self.watchdog_interval)

    # ------------------------------------------------------------------- rollouts
    async def enqueue_rollout(
        self,
        input: Any = None,
        *,
        mode: RolloutMode | None = None,
        resources_id: str | None = None,
        config: RolloutConfig | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Rollout:
        request = RolloutRequest(
            input=input, mode=mode, resources_id=resources_id, config=config, metadata=metadata or {}
        )
        return (await self.enqueue_rollouts([request]))[0]

    @abstractmethod
    async def enqueue_rollouts(self, requests: Sequence[RolloutRequest]) -> list[Rollout]:
        """Append rollouts to the queue in order and return them with ids."""

    @abstractmethod
    async def dequeue_rollout(self, worker_id: str | None = None) -> AttemptedRollout | None:
        """Take the oldest queued rollout, start a new attempt for it, or return ``None``."""

    @abstractmethod
    async def get_rollout(self, rollout_id: str) -> Rollout | None: ...

    @abstractmethod
    async def query_rollouts(
        self,
        *,
        status: Sequence[RolloutStatus] | None = None,
        mode: RolloutMode | None = None,
        rollout_ids: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        descending: bool = False,
    ) -> Page[Rollout]:
        """Rollouts matching every given filter, ordered by enqueue time."""

    async def search_rollouts(
        self,
        *,
        status: Sequence[RolloutStatus] | None = None,
        mode: RolloutMode | None = None,
        resources_id: str | None = None,
        text: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        descending: bool = True,
    ) -> Page[Rollout]:
        """Like :meth:`query_rollouts`, plus a resources version and ``text``: a case-insensitive
        substring of the rollout id or of the input's JSON. For browsing (the dashboard), newest
        first by default.

        This default pages through :meth:`query_rollouts` and filters here, which is correct for
        every backend but reads every rollout; backends with a query language override it (the
        SQL store answers a page of 100k rollouts in one indexed query).
        """
        if resources_id is None and not text:
            return await self.query_rollouts(
                status=status, mode=mode, limit=limit, offset=offset, descending=descending
            )
        from .transitions import validate_page

        validate_page(limit, offset)
        needle = (text or "").lower()
        matched: list[Rollout] = []
        chunk, start = 1000, 0
        while True:
            page = await self.query_rollouts(
                status=status, mode=mode, limit=chunk, offset=start, descending=descending
            )
            for r in page.items:
                if resources_id is not None and r.resources_id != resources_id:
                    continue
                if needle and needle not in r.rollout_id.lower() and needle not in _input_text(r).lower():
                    continue
                matched.append(r)
            start += chunk
            if start >= page.total or not page.items:
                break
        end = None if limit is None else offset + limit
        return Page(items=matched[offset:end], total=len(matched), limit=limit, offset=offset)

    @abstractmethod
    async def cancel_rollout(self, rollout_id: str) -> Rollout:
        """Cancel a rollout that is not final; its running attempt is marked failed."""

    # ------------------------------------------------------------------- attempts
    @abstractmethod
    async def get_attempts(self, rollout_id: str) -> list[Attempt]:
        """All attempts of a rollout, by ``sequence``. Raises ``NotFoundError`` for an unknown rollout."""

    async def get_latest_attempt(self, rollout_id: str) -> Attempt | None:
        attempts = await self.get_attempts(rollout_id)
        return attempts[-1] if attempts else None

    @abstractmethod
    async def update_attempt(
        self,
        rollout_id: str,
        attempt_id: str,
        *,
        status: AttemptStatus | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Attempt:
        """Change an attempt (and, per the rules above, its rollout). Also counts as a heartbeat."""

    @abstractmethod
    async def heartbeat(self, rollout_id: str, attempt_id: str) -> Attempt:
        """Record that the attempt's worker is alive."""

    # ---------------------------------------------------------------------- spans
    async def add_span(self, span: Span) -> Span:
        return (await self.add_spans([span]))[0]

    @abstractmethod
    async def add_spans(self, spans: Sequence[Span]) -> list[Span]:
        """Store spans (of any attempts); returns them with ``sequence_id`` set."""

    @abstractmethod
    async def query_spans(
        self,
        rollout_id: str,
        *,
        attempt_id: AttemptSelector = None,
        name: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Span]:
        """Spans of a rollout (all attempts, one attempt, or ``"latest"``) by attempt then sequence."""

    # ------------------------------------------------------------------ resources
    @abstractmethod
    async def add_resources(self, resources: Mapping[str, Resource]) -> ResourcesUpdate:
        """Publish a new version; it becomes the latest."""

    @abstractmethod
    async def get_resources(self, resources_id: str | None = None) -> ResourcesUpdate | None:
        """One version by id, or the latest with ``None``; ``None`` if there is none."""

    @abstractmethod
    async def query_resources(self, *, limit: int | None = None, offset: int = 0) -> Page[ResourcesUpdate]:
        """Every version, oldest first."""

    # -------------------------------------------------------------------- workers
    @abstractmethod
    async def update_worker(self, worker: Worker) -> Worker:
        """Insert or replace a worker record."""

    @abstractmethod
    async def query_workers(self) -> list[Worker]: ...

    # -------------------------------------------------------------------- watchdog
    @abstractmethod
    async def sweep(self, now: float | None = None) -> list[Attempt]:
        """End overdue attempts (timeout / unresponsive) and return the ones changed."""

    # ----------------------------------------------------------------- statistics
    @abstractmethod
    async def statistics(self) -> dict[str, Any]:
        """Counts by rollout and attempt status, spans, resources versions, workers, and backend facts."""

    # ------------------------------------------------------------------------ waits
    async def wait_for_rollouts(
        self, rollout_ids: Sequence[str], timeout: float | None = None
    ) -> list[Rollout]:
        """Wait until every rollout is final or ``timeout`` passes; return the final ones.

        Wakes on rollout events from the bus; the periodic re-check only guards against a bus
        that cannot see another process's changes.
        """
        ids = list(dict.fromkeys(rollout_ids))
        deadline = None if timeout is None else time.monotonic() + timeout
        subscription = self.bus.subscribe([Topic.ROLLOUTS]) if self.bus is not None else None
        poll = 0.05
        try:
            if subscription is not None:
                try:
                    await subscription.ready()
                except Exception as exc:  # the bus is down: the store itself is the source of truth
                    log.info(
                        "waiting for rollouts by polling the store: the event bus is unavailable (%s)", exc
                    )
                    await subscription.close()
                    subscription, poll = None, POLL_DURING_BUS_OUTAGE
            first = True
            while True:
                page = await self.query_rollouts(rollout_ids=ids)
                if first and page.total < len(ids):
                    known = {r.rollout_id for r in page.items}
                    missing = [rid for rid in ids if rid not in known]
                    raise NotFoundError(f"rollout {missing[0]!r} does not exist")
                first = False
                done = [r for r in page.items if r.status.is_final]
                if len(done) >= len(ids) or (deadline is not None and time.monotonic() >= deadline):
                    order = {rid: i for i, rid in enumerate(ids)}
                    return sorted(done, key=lambda r: order[r.rollout_id])
                remaining = {r.rollout_id for r in page.items} - {r.rollout_id for r in done}
                wait = self.wait_recheck_interval
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - time.monotonic()))
                if subscription is None:
                    await asyncio.sleep(min(wait, poll))
                    continue
                if self.bus_in_outage:  # events may not come: look at the store itself
                    wait = min(wait, POLL_DURING_BUS_OUTAGE)
                await _wait_for_final_event(subscription, remaining, wait)
        finally:
            if subscription is not None:
                await subscription.close()

    # ----------------------------------------------------------------- event helper
    async def _publish(self, topic: str, type_: str, payload: dict[str, Any]) -> None:
        """Send an event about a change already committed; never waits on a networked bus.

        The in-process bus takes it at once. Any other goes through the store's outbox (see
        ``bus/outbox.py``), so a bus outage delays events instead of the store's answers.
        """
        bus = self.bus
        if bus is None:
            return
        event = Event(topic=topic, type=type_, payload=payload)
        if not bus.publish_may_wait:
            started = time.monotonic()
            try:
                await bus.publish(event)
            except Exception as exc:  # the write already happened; a bus error must not undo it
                log.warning("could not publish %s event on %s: %s", type_, topic, exc)
                return
            self.bus_meter.record(time.monotonic() - started)
            return
        if self._outbox is None or self._outbox.bus is not bus:
            from ..bus.outbox import Outbox  # imported on use: most stores never need it

            self._outbox = Outbox(bus, max_events=self.outbox_max_events, meter=self.bus_meter)
        self._outbox.put(event)

    async def _publish_rollout(self, rollout: Rollout, type_: str = EventType.ROLLOUT_STATUS_CHANGED) -> None:
        await self._publish(
            Topic.ROLLOUTS,
            type_,
            {"rollout_id": rollout.rollout_id, "status": rollout.status.value, "mode": rollout.mode},
        )

    async def _publish_attempt(self, attempt: Attempt, type_: str = EventType.ATTEMPT_STATUS_CHANGED) -> None:
        await self._publish(
            Topic.ATTEMPTS,
            type_,
            {
                "rollout_id": attempt.rollout_id,
                "attempt_id": attempt.attempt_id,
                "sequence": attempt.sequence,
                "status": attempt.status.value,
                "worker_id": attempt.worker_id,
            },
        )


async def _wait_for_final_event(subscription: Any, remaining: set[str], timeout: float) -> None:
    """Return when an event says one of ``remaining`` reached a final status, or on timeout."""
    deadline = time.monotonic() + timeout
    final = {s.value for s in RolloutStatus if s.is_final}
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        event = await subscription.get(timeout=left)
        if event is None:
            return
        if event.payload.get("rollout_id") in remaining and event.payload.get("status") in final:
            return


def _input_text(rollout: Rollout) -> str:
    """The rollout's input as the JSON text a search looks into (the SQL store stores this text)."""
    import json

    return (
        rollout.input
        if isinstance(rollout.input, str)
        else json.dumps(rollout.input, ensure_ascii=False, separators=(",", ":"))
    )
