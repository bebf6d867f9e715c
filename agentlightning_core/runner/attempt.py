"""Running one attempt: the agent under the tracer, with heartbeats, span flushing and a clean end.

The order at the end matters: every span (the reward included) is sent *before* the attempt is
marked finished, so whoever waits for the rollout to finish finds its spans already stored.

The periodic flush is never cancelled in the middle of a send: a batch the store had already
stored, but whose answer the cancelled task never saw, would be sent again by the final flush
(the store would acknowledge it without storing it twice, but the runner should not rely on
that). The loop is told to stop and finishes its send first.

When the store answers ``attempt superseded`` (409) to a heartbeat, a span batch or the finish,
this attempt is no longer the rollout's live one: the agent is stopped, one line is logged, and
nothing more is written for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import enum
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..agent import LitAgent
from ..errors import AttemptSupersededError, ConflictError, NotFoundError, PayloadTooLargeError
from ..runtime.context import AttemptContext, reset_context, set_context
from ..store.base import LightningStore
from ..tracer import Tracer
from ..types import AttemptedRollout, AttemptStatus, Resource, ResourcesUpdate, Span
from .retry import is_transient, with_retries

log = logging.getLogger(__name__)

#: awaited with (rollout_id, attempt_id) after the runner's spans are sent and before the attempt
#: is marked finished: a Trainer uses it to flush the in-process LLM proxy's spans of the attempt
BeforeFinish = Callable[[str, str], Awaitable[None]]

#: tries of the final span flush and of the finish while the store is unreachable: about 30 s
#: (backoff up to 2 s), enough for a server restart. Giving up sooner turned a finished attempt
#: into a failed one ("spans could not be sent") that the default config does not retry. Past
#: the store's unresponsive limit the attempt is revived by the late report, or fenced off if a
#: retry already took over: either way it never counts twice.
FINISH_TRIES = 20

#: attempt metadata key holding the (shortened) traceback of a failed agent
TRACEBACK_KEY = "traceback"
MAX_TRACEBACK_CHARS = 4000


@dataclass(frozen=True)
class AttemptSettings:
    """How a runner paces the bookkeeping of each attempt (see :class:`~.runner.Runner`)."""

    heartbeat_interval: float = 5.0
    flush_interval: float = 1.0
    max_batch_spans: int = 500
    enforce_timeout: bool = True
    before_finish: BeforeFinish | None = None

    def heartbeat_every(self, unresponsive_seconds: float | None) -> float:
        """Well below the rollout's unresponsive limit: four beats fit in it."""
        if unresponsive_seconds is None:
            return self.heartbeat_interval
        return max(0.01, min(self.heartbeat_interval, unresponsive_seconds / 4))


class EndedBy(str, enum.Enum):
    """Who decided how the attempt ended."""

    AGENT = "agent"  # returned or raised
    STORE = "store"  # timeout, cancel or a newer attempt: the store says it is over
    TIMEOUT = "timeout"  # the runner's own deadline (``timeout_seconds``)
    RUNNER = "runner"  # the runner stopped before the agent finished


@dataclass
class AttemptReport:
    """What happened to one attempt, as the runner saw it."""

    rollout_id: str
    attempt_id: str
    status: AttemptStatus | None
    ended_by: EndedBy
    reward: float | None = None
    error: str | None = None
    spans_sent: int = 0
    spans_lost: int = 0
    duration: float = 0.0


@dataclass
class _State:
    unsent: list[Span] = field(default_factory=list)
    sent: int = 0
    ended_by: EndedBy = EndedBy.AGENT
    store_status: AttemptStatus | None = None
    store_error: str | None = None
    abort_reason: str | None = None
    superseded: bool = False  # the store fenced this attempt off: write nothing more


class AttemptExecution:
    """One attempt from the moment it was dequeued until the store knows how it ended."""

    def __init__(
        self,
        item: AttemptedRollout,
        *,
        store: LightningStore,
        agent: LitAgent[object],
        tracer: Tracer,
        settings: AttemptSettings,
        worker_id: str,
        resources: dict[str, Resource],
        resources_update: ResourcesUpdate | None,
    ) -> None:
        self.rollout = item.rollout
        self.attempt = item.attempt
        self.store = store
        self.agent = agent
        self.tracer = tracer
        self.settings = settings
        self.ctx = AttemptContext(
            rollout=item.rollout,
            attempt=item.attempt,
            resources=resources,
            resources_id=resources_update.resources_id if resources_update is not None else None,
            worker_id=worker_id,
        )
        self._state = _State()
        self._flush_lock = asyncio.Lock()
        self._stop_flushing = asyncio.Event()
        self._agent_task: asyncio.Task[float | None] | None = None

    @property
    def rollout_id(self) -> str:
        return self.rollout.rollout_id

    @property
    def attempt_id(self) -> str:
        return self.attempt.attempt_id

    def abort(self, reason: str) -> None:
        """Stop the agent now; the attempt is then marked ``failed`` with ``reason`` (retryable)."""
        if self._agent_task is not None and not self._agent_task.done():
            self._state.ended_by = EndedBy.RUNNER
            self._state.abort_reason = reason
            self._agent_task.cancel()

    async def run(self, *, abort_reason: str | None = None) -> AttemptReport:
        """Run the attempt to its end; with ``abort_reason`` it is failed at once (runner stopping)."""
        start = time.monotonic()
        self._agent_task = asyncio.create_task(self._call_agent(), name=f"agent-{self.rollout_id}")
        if abort_reason is not None:
            self.abort(abort_reason)
        heartbeat = asyncio.create_task(self._heartbeat_loop(), name=f"heartbeat-{self.attempt_id}")
        flusher = asyncio.create_task(self._flush_loop(), name=f"flush-{self.attempt_id}")
        try:
            reward, error, tb = await self._await_agent()
        finally:
            heartbeat.cancel()
            self._stop_flushing.set()  # not cancel(): a send in flight completes (see module doc)
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            try:
                await asyncio.shield(flusher)
            except asyncio.CancelledError:
                flusher.cancel()  # this run itself was cancelled: do not wait
                raise
        report = await self._finish(reward, error, tb)
        report.duration = time.monotonic() - start
        return report

    # ------------------------------------------------------------------ the agent
    async def _call_agent(self) -> float | None:
        token = set_context(self.ctx)
        try:
            async with self.tracer.trace_attempt(self.ctx):
                return await self.agent.run(self.rollout.input, self.ctx.resources, self.rollout)
        finally:
            reset_context(token)

    async def _await_agent(self) -> tuple[float | None, str | None, str | None]:
        """The agent's reward, or the error text and traceback that end the attempt."""
        assert self._agent_task is not None
        timeout = self.rollout.config.timeout_seconds if self.settings.enforce_timeout else None
        if timeout is not None:
            timeout = max(0.0, timeout - (time.time() - self.attempt.start_time))
        done, _ = await asyncio.wait({self._agent_task}, timeout=timeout)
        if not done:
            self._state.ended_by = EndedBy.TIMEOUT
            self._agent_task.cancel()
            with contextlib.suppress(BaseException):
                await self._agent_task
            return None, f"attempt exceeded timeout_seconds={self.rollout.config.timeout_seconds}", None
        if self._agent_task.cancelled():
            if self._state.ended_by is EndedBy.AGENT:  # cancelled from inside the agent's own code
                return None, "the agent's task was cancelled (CancelledError inside the agent)", None
            return None, self._state.abort_reason or self._state.store_error, None
        exc = self._agent_task.exception()
        if exc is not None:
            return None, _describe(exc), _traceback(exc)
        return self._agent_task.result(), None, None

    # ------------------------------------------------------------------ the end
    async def _finish(self, reward: float | None, error: str | None, tb: str | None) -> AttemptReport:
        state = self._state
        if reward is not None and state.ended_by is EndedBy.AGENT and error is None:
            self.ctx.emit_reward(reward)
        lost = 0
        try:
            await with_retries(
                self._flush, what=f"sending spans of attempt {self.attempt_id}", tries=FINISH_TRIES
            )
        except AttemptSupersededError as exc:
            self._superseded(exc)
        except Exception as exc:
            lost = len(state.unsent)
            log.error("attempt %s: %d spans could not be sent: %s", self.attempt_id, lost, exc)
            if state.ended_by is EndedBy.AGENT and error is None:
                error = f"{lost} spans could not be sent to the store ({_describe(exc)})"
        if self.settings.before_finish is not None:
            try:
                await self.settings.before_finish(self.rollout_id, self.attempt_id)
            except Exception as exc:
                log.warning("attempt %s: before_finish hook failed: %s", self.attempt_id, exc)
        status = self._final_status(error)
        report = AttemptReport(
            rollout_id=self.rollout_id,
            attempt_id=self.attempt_id,
            status=status,
            ended_by=state.ended_by,
            reward=reward if status is AttemptStatus.SUCCEEDED else None,
            error=error,
            spans_sent=state.sent,
            spans_lost=lost,
        )
        if state.ended_by is EndedBy.STORE:
            report.status = state.store_status
            return report  # already final in the store: nothing to write
        metadata = {TRACEBACK_KEY: tb} if tb else None
        try:
            await with_retries(
                lambda: self.store.update_attempt(
                    self.rollout_id, self.attempt_id, status=status, error=error, metadata=metadata
                ),
                what=f"finishing attempt {self.attempt_id}",
                tries=FINISH_TRIES,
            )
        except AttemptSupersededError as exc:
            self._superseded(exc)
            report.ended_by = EndedBy.STORE
            report.status = None
        except (ConflictError, NotFoundError) as exc:
            # The watchdog or a cancel got there first; the store's verdict stands.
            log.info("attempt %s ended in the store before the runner finished it: %s", self.attempt_id, exc)
            report.ended_by = EndedBy.STORE
            report.status = None
        except Exception as exc:
            log.error(
                "attempt %s: could not record its end (%s); the store's watchdog will end it once "
                "its heartbeats stop, and retry the rollout if attempts remain",
                self.attempt_id,
                exc,
            )
        return report

    def _final_status(self, error: str | None) -> AttemptStatus:
        if self._state.ended_by is EndedBy.TIMEOUT:
            return AttemptStatus.TIMEOUT
        return AttemptStatus.FAILED if error is not None else AttemptStatus.SUCCEEDED

    # ------------------------------------------------------------------ heartbeats
    async def _heartbeat_loop(self) -> None:
        interval = self.settings.heartbeat_every(self.rollout.config.unresponsive_seconds)
        while True:
            await asyncio.sleep(interval)
            try:
                attempt = await self.store.heartbeat(self.rollout_id, self.attempt_id)
            except AttemptSupersededError as exc:
                self._superseded(exc)
                return
            except (ConflictError, NotFoundError) as exc:
                self._ended_in_store(None, str(exc))
                return
            except Exception as exc:
                log.warning("attempt %s: heartbeat failed (%s); retrying", self.attempt_id, exc)
                continue
            if attempt.status is not AttemptStatus.RUNNING:
                self._ended_in_store(attempt.status, attempt.error)
                return

    def _superseded(self, exc: AttemptSupersededError) -> None:
        """The store fenced this attempt off: log it once, stop the agent, send nothing more."""
        state = self._state
        if not state.superseded:
            log.warning("attempt %s of rollout %s stopped: %s", self.attempt_id, self.rollout_id, exc)
        state.superseded = True
        state.ended_by = EndedBy.STORE
        state.store_status = None
        state.store_error = str(exc)
        state.unsent.clear()
        self._stop_flushing.set()
        task = self._agent_task
        if task is not None and not task.done():
            task.cancel()

    def _ended_in_store(self, status: AttemptStatus | None, error: str | None) -> None:
        """The store ended the attempt (timeout, cancel, superseded): stop the agent, move on."""
        task = self._agent_task
        if task is None or task.done():
            return
        log.info(
            "attempt %s of rollout %s ended in the store (%s); cancelling the agent",
            self.attempt_id,
            self.rollout_id,
            status.value if status is not None else error,
        )
        self._state.ended_by = EndedBy.STORE
        self._state.store_status = status
        self._state.store_error = (
            f"ended by the store: {status.value if status else ''} {error or ''}".strip()
        )
        task.cancel()

    # ------------------------------------------------------------------ spans
    async def _flush_loop(self) -> None:
        """Flush every ``flush_interval`` until told to stop; a send in progress is never cut."""
        while not self._stop_flushing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_flushing.wait(), self.settings.flush_interval)
            if self._stop_flushing.is_set():
                return  # the final flush in ``_finish`` sends what is left
            try:
                await self._flush()
            except AttemptSupersededError as exc:
                self._superseded(exc)
                return
            except Exception as exc:
                if not is_transient(exc):
                    log.error("attempt %s: dropping spans the store refuses: %s", self.attempt_id, exc)
                    self._state.unsent.clear()
                else:
                    log.warning("attempt %s: sending spans failed (%s); will retry", self.attempt_id, exc)

    async def _flush(self) -> None:
        """Send every pending span: one ``add_spans`` call per ``max_batch_spans`` spans."""
        async with self._flush_lock:
            state = self._state
            if state.superseded:
                self.ctx.take_pending()  # nothing of this attempt may be written any more
                return
            state.unsent.extend(self.ctx.take_pending())
            while state.unsent:
                batch = state.unsent[: self.settings.max_batch_spans]
                try:
                    await self.store.add_spans(batch)
                except PayloadTooLargeError:
                    if len(batch) == 1:
                        raise
                    # Too big for one request: halve the batch size for this attempt and go on.
                    self.settings = _with_batch(self.settings, max(1, len(batch) // 2))
                    continue
                del state.unsent[: len(batch)]
                state.sent += len(batch)


def _with_batch(settings: AttemptSettings, size: int) -> AttemptSettings:
    return dataclasses.replace(settings, max_batch_spans=size)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_CORE_DIR = str(Path(__file__).resolve().parents[1])
_STDLIB_DIRS = (str(Path(asyncio.__file__).parent), str(Path(concurrent.futures.__file__).parent))


def _traceback(exc: BaseException) -> str:
    """The traceback from the first frame of the user's code on (runner and asyncio frames
    say nothing about why the agent failed)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith((_CORE_DIR, *_STDLIB_DIRS)):
        if tb.tb_next is None:
            break  # the error is inside the core itself: keep that frame
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return text[-MAX_TRACEBACK_CHARS:]
