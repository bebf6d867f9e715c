"""Tracers turn what happens inside agent code into spans for the store.

The runner wraps every attempt in ``tracer.trace_attempt(ctx)``; spans the tracer produces go to
``ctx.record_span``, and the runner sends them to the store in batches. LLM calls through the
proxy are recorded by the proxy whatever the tracer; a tracer adds what only the agent's process
can see (agent steps, tool calls, framework internals).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import ClassVar

from .runtime.context import AttemptContext


class Tracer:
    """Base class; the built-in ``noop`` tracer is this class as is."""

    name: ClassVar[str] = "noop"

    def init_worker(self, worker_id: str) -> None:
        """Called once per runner before its first attempt (set up providers, exporters)."""

    def teardown_worker(self, worker_id: str) -> None:
        """Called once when the runner stops; flush whatever is buffered."""

    @contextlib.asynccontextmanager
    async def trace_attempt(self, ctx: AttemptContext) -> AsyncIterator[None]:
        """Trace the agent code run inside this block as part of ``ctx``'s attempt."""
        yield


class NoopTracer(Tracer):
    """Records nothing beyond rewards and proxy-recorded LLM calls."""

    name = "noop"
