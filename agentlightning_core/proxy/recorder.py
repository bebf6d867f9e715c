"""Writes the proxy's LLM-call spans to the store in the background, in batches.

The proxy answers the agent first and records afterwards: ``record`` only appends to a buffer,
and one writer task sends everything that accumulated while its previous write was in flight as
one ``add_spans`` call. ``record_later`` takes a function that builds the span, so even building
it (a pydantic model around the request and response, some 40 µs) happens after the answer is
sent. ``flush(attempt_id)`` waits until an attempt's spans are stored; the server calls it before
an attempt is finished, so an algorithm that reads a finished rollout's spans never misses its
last LLM call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from itertools import groupby

from ..errors import AglError, BackendUnavailableError
from ..store.base import LightningStore
from ..types import Span

log = logging.getLogger(__name__)


class SpanRecorder:
    def __init__(
        self, store: LightningStore, *, max_batch: int = 1000, retries: int = 5, retry_delay: float = 0.2
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.retries = retries
        self.retry_delay = retry_delay
        self._buffer: list[tuple[str, Span | Callable[[], Span]]] = []
        self._pending: Counter[str] = Counter()
        self._wake: asyncio.Event | None = None
        self._written: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake_scheduled = False
        self.dropped = 0
        self.written = 0

    # ------------------------------------------------------------------ producer side
    def record(self, span: Span) -> None:
        """Queue ``span`` for the store; never blocks, never raises."""
        self.record_later(span.attempt_id, span)

    def record_later(self, attempt_id: str, build: Span | Callable[[], Span]) -> None:
        """Queue the span ``build()`` returns (called by the writer, off the caller's path)."""
        self._buffer.append((attempt_id, build))
        self._pending[attempt_id] += 1
        self._ensure_started()
        if not self._wake_scheduled:
            # wake the writer on the next loop turn, after the answer's bytes have gone out
            # (the server sends them in a callback scheduled by the response it is building)
            self._wake_scheduled = True
            asyncio.get_running_loop().call_soon(self._wake_writer)

    def _wake_writer(self) -> None:
        self._wake_scheduled = False
        if self._wake is not None:
            self._wake.set()

    def pending(self, attempt_id: str | None = None) -> int:
        return self._pending[attempt_id] if attempt_id is not None else sum(self._pending.values())

    async def flush(self, attempt_id: str | None = None, timeout: float | None = 30.0) -> None:
        """Wait until the spans recorded so far (of one attempt, or all) are written or dropped."""
        if not self.pending(attempt_id):
            return
        self._ensure_started()
        assert self._written is not None
        written = self._written

        async def drained() -> None:
            async with written:
                await written.wait_for(lambda: not self.pending(attempt_id))

        try:
            await asyncio.wait_for(drained(), timeout)
        except asyncio.TimeoutError:
            log.warning(
                "span recorder: %d spans still unwritten after %ss", self.pending(attempt_id), timeout
            )

    async def close(self) -> None:
        """Write what is buffered, then stop the writer."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ------------------------------------------------------------------ writer side
    def _ensure_started(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._written = asyncio.Condition()
            self._task = asyncio.create_task(self._run(), name="agl-span-recorder")

    async def _run(self) -> None:
        assert self._wake is not None and self._written is not None
        while True:
            if not self._buffer:
                self._wake.clear()
                await self._wake.wait()
            batch, self._buffer = self._buffer[: self.max_batch], self._buffer[self.max_batch :]
            try:
                spans = [s for s in map(self._build, batch) if s is not None]
                if spans:
                    await self._write(spans)
            finally:
                for attempt_id, _ in batch:
                    self._pending[attempt_id] -= 1
                    if self._pending[attempt_id] <= 0:
                        del self._pending[attempt_id]
                async with self._written:
                    self._written.notify_all()

    def _build(self, item: tuple[str, Span | Callable[[], Span]]) -> Span | None:
        attempt_id, build = item
        if isinstance(build, Span):
            return build
        try:
            return build()
        except Exception as exc:  # a bug building one span must not stop the writer
            self.dropped += 1
            log.exception("span recorder: could not build an LLM span of attempt %s: %s", attempt_id, exc)
            return None

    async def _write(self, batch: list[Span]) -> None:
        for attempt in range(self.retries + 1):
            try:
                await self.store.add_spans(batch)
                self.written += len(batch)
                return
            except asyncio.CancelledError:
                raise
            except BackendUnavailableError as exc:
                if attempt == self.retries:
                    self._drop(batch, exc)
                    return
                await asyncio.sleep(self.retry_delay * 2**attempt)
            except AglError as exc:
                # one attempt the store refuses must not sink the others' spans
                groups = [list(g) for _, g in groupby(batch, key=lambda s: s.attempt_id)]
                if len(groups) == 1:
                    self._drop(batch, exc)
                    return
                for group in groups:
                    await self._write(group)
                return
            except Exception as exc:
                self._drop(batch, exc)
                return

    def _drop(self, batch: list[Span], exc: BaseException) -> None:
        self.dropped += len(batch)
        attempts = sorted({s.attempt_id for s in batch})
        log.error(
            "span recorder: dropped %d LLM spans of attempts %s: %s: %s",
            len(batch),
            ", ".join(attempts[:5]),
            type(exc).__name__,
            exc,
        )
