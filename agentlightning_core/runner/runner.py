"""The runner: takes rollouts from the store and runs the agent on them, many at once.

It works the same over a local store object and over ``HttpStore`` (a server elsewhere): it only
calls the :class:`~agentlightning_core.store.LightningStore` interface. A runner killed outright
costs nothing but time: its attempts stop heartbeating, the store's watchdog marks them
``unresponsive`` and requeues their rollouts for another runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..agent import LitAgent, as_agent
from ..bus.base import EventBus
from ..store.base import LightningStore
from ..tracer import NoopTracer, Tracer
from ..types import AttemptedRollout, AttemptStatus
from .attempt import AttemptExecution, AttemptReport, AttemptSettings, BeforeFinish, EndedBy
from .idle import WorkSignal
from .resources import ResourcesCache, resources_for_attempt
from .retry import is_transient
from .worker import WorkerReporter

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    """``host-pid-xxxx``: unique per runner, readable in the dashboard."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


@dataclass
class RunnerStats:
    """Counts of what this runner did, by how each attempt ended."""

    dequeued: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    ended_by_store: int = 0
    aborted: int = 0
    reports: list[AttemptReport] = field(default_factory=list)

    def add(self, report: AttemptReport, keep: int) -> None:
        if report.ended_by is EndedBy.STORE:
            self.ended_by_store += 1
        elif report.ended_by is EndedBy.RUNNER:
            self.aborted += 1
        elif report.status is AttemptStatus.SUCCEEDED:
            self.succeeded += 1
        elif report.status is AttemptStatus.TIMEOUT:
            self.timed_out += 1
        else:
            self.failed += 1
        if keep > 0:
            self.reports.append(report)
            del self.reports[:-keep]


class Runner:
    """Pulls rollouts and runs ``agent`` on them until :meth:`stop` (or ``max_rollouts``).

    :param agent: a :class:`LitAgent` or a plain function (wrapped like ``@rollout``).
    :param store: any ``LightningStore``: a local one, or ``HttpStore`` for a remote server.
    :param tracer: records spans of the agent's code; default: the no-op tracer.
    :param concurrency: rollouts run at once (async tasks; sync agents run in threads).
    :param bus: event bus used to wake up when work arrives; default: the store's bus. Without
        one the runner polls with a backoff between ``idle_backoff`` seconds; with one it still
        re-checks the queue every ``idle_recheck`` seconds in case an event was lost.
    :param heartbeat_interval: seconds between heartbeats of a running attempt, capped at a
        quarter of the rollout's ``unresponsive_seconds``.
    :param flush_interval: seconds between span flushes during a long attempt (one
        ``add_spans`` call per flush); spans are always flushed at the end.
    :param max_batch_spans: most spans per ``add_spans`` call.
    :param stop_grace: seconds a stopping runner lets in-flight attempts finish before it fails
        them (they are retried elsewhere while attempts remain).
    :param max_rollouts: stop after this many rollouts (handy for tests and one-shot jobs).
    :param enforce_timeout: end an attempt at its rollout's ``timeout_seconds`` here too, instead
        of only when the store's watchdog notices.
    :param before_finish: awaited with ``(rollout_id, attempt_id)`` once the runner's spans are
        sent and before the attempt is marked finished (the Trainer flushes its in-process LLM
        proxy's spans there, so a finished rollout never lacks its last LLM call).
    :param worker_metadata: extra fields of this runner's worker record (``launcher``, the Ray
        node it runs on), shown by ``query_workers`` and the dashboard.
    """

    def __init__(
        self,
        agent: LitAgent[Any] | Any,
        store: LightningStore,
        *,
        tracer: Tracer | None = None,
        worker_id: str | None = None,
        concurrency: int = 1,
        bus: EventBus | None = None,
        heartbeat_interval: float = 5.0,
        flush_interval: float = 1.0,
        max_batch_spans: int = 500,
        idle_backoff: tuple[float, float] = (0.005, 0.25),
        idle_recheck: float = 1.0,
        stop_grace: float = 10.0,
        max_rollouts: int | None = None,
        enforce_timeout: bool = True,
        before_finish: BeforeFinish | None = None,
        keep_reports: int = 1000,
        worker_metadata: dict[str, Any] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1 (got {concurrency})")
        if heartbeat_interval <= 0 or flush_interval <= 0:
            raise ValueError("heartbeat_interval and flush_interval must be > 0 seconds")
        if max_batch_spans < 1:
            raise ValueError(f"max_batch_spans must be >= 1 (got {max_batch_spans})")
        self.agent: LitAgent[Any] = as_agent(agent)
        #: extra fields of this runner's worker record (its launcher, its Ray node): the dashboard
        #: and ``query_workers`` show where each runner runs
        self.worker_metadata = dict(worker_metadata or {})
        self.store = store
        self.tracer = tracer or NoopTracer()
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.bus = bus
        self.settings = AttemptSettings(
            heartbeat_interval=heartbeat_interval,
            flush_interval=flush_interval,
            max_batch_spans=max_batch_spans,
            enforce_timeout=enforce_timeout,
            before_finish=before_finish,
        )
        self.idle_backoff = idle_backoff
        self.idle_recheck = idle_recheck
        self.stop_grace = stop_grace
        self.max_rollouts = max_rollouts
        self.keep_reports = keep_reports
        self.stats = RunnerStats()
        self.resources = ResourcesCache(store)
        #: attempt task → its rollout id; executions appear once resources are fetched
        self._inflight: dict[asyncio.Task[None], str | None] = {}  # None: still dequeuing
        self._dequeuing = 0
        self._queue_empty = True
        self._probe_now = True
        self._fatal: Exception | None = None
        self._executions: dict[str, AttemptExecution] = {}
        self._abort_reason: str | None = None
        self._stopping = False
        self._grace: float | None = None
        self._slot_freed: asyncio.Event | None = None
        self._signal: WorkSignal | None = None
        self._reporter: WorkerReporter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._running = False

    # ------------------------------------------------------------------ control
    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def stop(self, grace: float | None = None) -> None:
        """Stop taking rollouts; in-flight attempts get ``grace`` seconds (default
        ``stop_grace``) to finish, then are failed. Safe to call from any thread or a signal handler."""
        loop = self._loop
        if loop is not None and loop.is_running() and threading.current_thread() is not self._loop_thread:
            loop.call_soon_threadsafe(self._request_stop, grace)
        else:
            self._request_stop(grace)

    def _request_stop(self, grace: float | None) -> None:
        self._stopping = True
        if grace is not None:
            self._grace = grace
        if self._signal is not None:
            self._signal.poke()
        if self._slot_freed is not None:
            self._slot_freed.set()

    async def run(self) -> RunnerStats:
        """Run until stopped; returns what this runner did."""
        if self._running:
            raise RuntimeError(f"runner {self.worker_id} is already running")
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.current_thread()
        self._abort_reason = None
        self._fatal = None
        self._queue_empty = True  # start with one probe, not a burst of `concurrency` dequeues
        self._probe_now = True
        self._slot_freed = asyncio.Event()
        self._signal = WorkSignal(
            self.bus if self.bus is not None else self.store.bus,
            min_backoff=self.idle_backoff[0],
            max_backoff=self.idle_backoff[1],
            bus_recheck=self.idle_recheck,
        )
        self._reporter = WorkerReporter(
            self.store,
            self.worker_id,
            metadata={**self.worker_metadata, "concurrency": self.concurrency, "agent": self.agent.name},
        )
        tracer_ready = False
        try:
            self.tracer.init_worker(self.worker_id)
            tracer_ready = True
            await self._signal.start()
            await self._reporter.start()
            log.info("runner %s started (concurrency %d)", self.worker_id, self.concurrency)
            await self._dispatch()
            await self._drain(self._grace if self._grace is not None else self.stop_grace)
        except asyncio.CancelledError:
            # Cancelled from outside: fail what runs (so it is retried) before giving up.
            await asyncio.shield(self._drain(0.0))
            raise
        except Exception:
            await self._drain(0.0)
            raise
        finally:
            await self._signal.close()
            await self._reporter.close()
            if tracer_ready:
                self.tracer.teardown_worker(self.worker_id)
            self._running = False
            self._stopping = False
            self._grace = None
            log.info(
                "runner %s stopped: %d succeeded, %d failed, %d ended by the store",
                self.worker_id,
                self.stats.succeeded,
                self.stats.failed + self.stats.timed_out + self.stats.aborted,
                self.stats.ended_by_store,
            )
        return self.stats

    # ------------------------------------------------------------------ dispatch
    # Every free slot gets a task that dequeues and then runs what it got, so while there is
    # work the runner dequeues as many rollouts at once as it has free slots (one dequeue at a
    # time would cap a runner at 1 / dequeue latency). Once a dequeue comes back empty, only
    # one probe at a time looks at the queue, with the idle wait (bus event or backoff) between
    # probes, so an idle runner costs the server little however large its concurrency.
    def _done(self) -> bool:
        return self._stopping or (self.max_rollouts is not None and self.stats.dequeued >= self.max_rollouts)

    def _may_take_more(self) -> bool:
        return self.max_rollouts is None or self.stats.dequeued + self._dequeuing < self.max_rollouts

    async def _dispatch(self) -> None:
        assert self._signal is not None and self._slot_freed is not None
        signal = self._signal
        while not self._done():
            if self._fatal is not None:
                raise self._fatal
            if len(self._inflight) >= self.concurrency or not self._may_take_more():
                await self._wait_slot()
                continue
            if self._queue_empty:
                if self._dequeuing:  # a probe is out: its answer decides
                    await self._wait_slot()
                    continue
                if not self._probe_now:
                    await signal.wait()
                    if self._done():
                        break
                self._probe_now = False
                signal.arm()
            self._launch()
        if self._fatal is not None:
            raise self._fatal

    async def _wait_slot(self) -> None:
        assert self._slot_freed is not None
        self._slot_freed.clear()
        await self._slot_freed.wait()

    def _launch(self) -> None:
        self._dequeuing += 1
        task = asyncio.create_task(self._take_and_run(), name=f"runner-slot-{self.worker_id}")
        self._inflight[task] = None
        task.add_done_callback(self._on_slot_done)

    async def _take_and_run(self) -> None:
        task = asyncio.current_task()
        try:
            item = await self.store.dequeue_rollout(self.worker_id)
        except Exception as exc:
            if not is_transient(exc):  # a wrong token or URL does not fix itself: stop and say so
                self._fatal = exc
                if self._signal is not None:
                    self._signal.poke()
            else:  # store unreachable for now: back off like on an empty queue
                log.warning("runner %s: dequeue failed (%s: %s)", self.worker_id, type(exc).__name__, exc)
            item = None
        finally:
            self._dequeuing -= 1
            if self._slot_freed is not None:
                self._slot_freed.set()  # the dispatcher may start more dequeues (or probe again)
        if item is None:
            self._queue_empty = True
            return
        self._queue_empty = False
        assert self._signal is not None
        self._signal.found_work()
        self.stats.dequeued += 1
        if task is not None:
            self._inflight[task] = item.rollout.rollout_id
            self._report_worker()
        await self._run_attempt(item)

    def _on_slot_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("runner %s: attempt task crashed", self.worker_id, exc_info=task.exception())
        if self._slot_freed is not None:
            self._slot_freed.set()
        self._report_worker()

    def _report_worker(self) -> None:
        if self._reporter is not None:
            self._reporter.update([rid for rid in self._inflight.values() if rid is not None])

    async def _drain(self, grace: float) -> None:
        """Let in-flight attempts finish for ``grace`` seconds, then fail the rest.

        A slot still waiting on its dequeue holds no attempt: it is waited for but neither counted
        nor warned about (at ``concurrency=1`` the idle probe is nearly always out at stop, and
        calling it a failing attempt was wrong). If that dequeue does return a rollout, the abort
        reason set here fails the attempt at once, so the store hands it to another worker.
        """
        if not self._inflight:
            return
        tasks = list(self._inflight)
        if grace > 0:
            _, pending = await asyncio.wait(tasks, timeout=grace)
        else:  # no waiting, but a task that already ended is not "still running"
            pending = {task for task in tasks if not task.done()}
        if not pending:
            return
        self._abort_reason = f"runner {self.worker_id} stopped before the attempt finished"
        running = [task for task in pending if self._inflight.get(task) is not None]
        if running:
            log.warning("runner %s: failing %d attempts still running at stop", self.worker_id, len(running))
        for execution in list(self._executions.values()):
            execution.abort(self._abort_reason)
        await asyncio.wait(pending, timeout=max(5.0, self.settings.flush_interval * 2))

    # ------------------------------------------------------------------ one attempt
    async def _run_attempt(self, item: AttemptedRollout) -> None:
        rollout, attempt = item.rollout, item.attempt
        try:
            update = await self.resources.get(rollout.resources_id)
        except Exception as exc:
            await self._fail_without_running(item, f"could not fetch resources: {type(exc).__name__}: {exc}")
            return
        execution = AttemptExecution(
            item,
            store=self.store,
            agent=self.agent,
            tracer=self.tracer,
            settings=self.settings,
            worker_id=self.worker_id,
            resources=resources_for_attempt(update, rollout.rollout_id, attempt.attempt_id),
            resources_update=update,
        )
        self._executions[rollout.rollout_id] = execution
        try:
            report = await execution.run(abort_reason=self._abort_reason)
        except Exception as exc:  # a bug here must not leave the attempt running in the store
            log.exception("runner %s: attempt %s crashed", self.worker_id, attempt.attempt_id)
            await self._fail_without_running(item, f"runner error: {type(exc).__name__}: {exc}")
            return
        finally:
            del self._executions[rollout.rollout_id]
        self.stats.add(report, self.keep_reports)
        log.debug(
            "rollout %s attempt %s: %s (%s) reward=%s spans=%d",
            report.rollout_id,
            report.attempt_id,
            report.status.value if report.status else "ended in store",
            report.ended_by.value,
            report.reward,
            report.spans_sent,
        )

    async def _fail_without_running(self, item: AttemptedRollout, error: str) -> None:
        log.error("rollout %s: %s", item.rollout.rollout_id, error)
        report = AttemptReport(
            rollout_id=item.rollout.rollout_id,
            attempt_id=item.attempt.attempt_id,
            status=AttemptStatus.FAILED,
            ended_by=EndedBy.AGENT,
            error=error,
        )
        with contextlib.suppress(Exception):
            await self.store.update_attempt(
                item.rollout.rollout_id, item.attempt.attempt_id, status=AttemptStatus.FAILED, error=error
            )
        self.stats.add(report, self.keep_reports)
