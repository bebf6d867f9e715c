"""The span processor that sends each finished OpenTelemetry span to the attempt it belongs to.

One processor per tracer provider serves every runner and every attempt of the process: a span
belongs to the attempt whose root trace it is in (each attempt starts its own trace), or else to
the attempt that is current (context variable) where the span starts. Spans of neither — the
application's own traffic outside rollouts — are left to whatever other processors the provider
has. The processor hands spans to ``AttemptContext.record_span``; the runner sends them to the
store in batches, so nothing here blocks on the network.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from agentlightning_core.runtime.context import AttemptContext, current_context
from agentlightning_core.types import Span as CoreSpan
from agentlightning_core.types import semconv

from .convert import to_core_span

ROLLOUT_ID = "agentlightning.rollout_id"
ATTEMPT_ID = "agentlightning.attempt_id"
#: order in which the tracer saw the attempt's spans start (the store's sequence_id is the order
#: of arrival, shared with the proxy's spans, so it is left to the store)
START_SEQUENCE = "agentlightning.start_sequence"

SpanSink = Callable[[AttemptContext, CoreSpan], None]


class _Attempt:
    def __init__(self, ctx: AttemptContext, sink: SpanSink | None) -> None:
        self.ctx = ctx
        self.sink = sink
        self.counter = itertools.count(1)


class AttemptRouter(SpanProcessor):
    """Routes spans to attempts; also remembers each live span's agent for header propagation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_trace: dict[int, _Attempt] = {}
        self._by_attempt: dict[str, _Attempt] = {}
        self._span_attempt: dict[int, _Attempt] = {}
        self._span_agent: dict[int, str] = {}
        #: server spans (and their children) of this process: the work of a server answering
        #: the agent — e.g. FastAPI's own spans when the LLM proxy runs in the trainer's process
        self._excluded: set[int] = set()

    # ------------------------------------------------------------- attempts
    def open_attempt(self, ctx: AttemptContext, sink: SpanSink | None = None) -> None:
        """Route spans started while ``ctx`` is the current attempt to it (and to ``sink``)."""
        with self._lock:
            self._by_attempt[ctx.attempt_id] = _Attempt(ctx, sink)

    def bind_trace(self, attempt_id: str, trace_id: int) -> None:
        """Route every span of ``trace_id`` to the attempt, whatever thread or task starts it."""
        with self._lock:
            entry = self._by_attempt.get(attempt_id)
            if entry is not None:
                self._by_trace[trace_id] = entry

    def close_attempt(self, attempt_id: str) -> None:
        with self._lock:
            entry = self._by_attempt.pop(attempt_id, None)
            for trace_id in [t for t, e in self._by_trace.items() if e is entry]:
                del self._by_trace[trace_id]

    def agent_of(self, span_id: int) -> str | None:
        """The agent a live span runs under (its own ``gen_ai.agent.name`` or its parent's)."""
        return self._span_agent.get(span_id)

    def _find(self, span: Span) -> _Attempt | None:
        context = span.get_span_context()
        with self._lock:
            entry = self._by_trace.get(context.trace_id)
            if entry is None:
                ctx = current_context()
                if ctx is not None:
                    entry = self._by_attempt.get(ctx.attempt_id)
        return entry

    # ------------------------------------------------------------- SpanProcessor
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span_id = span.get_span_context().span_id
        if span.kind is SpanKind.SERVER or (
            span.parent is not None and span.parent.span_id in self._excluded
        ):
            with self._lock:
                self._excluded.add(span_id)
            return
        entry = self._find(span)
        if entry is None:
            return
        span.set_attribute(ROLLOUT_ID, entry.ctx.rollout_id)
        span.set_attribute(ATTEMPT_ID, entry.ctx.attempt_id)
        span.set_attribute(START_SEQUENCE, next(entry.counter))
        agent = (span.attributes or {}).get(semconv.AGENT_NAME)
        if not agent and span.parent is not None:
            agent = self._span_agent.get(span.parent.span_id)
        with self._lock:
            self._span_attempt[span_id] = entry
            if agent:
                self._span_agent[span_id] = str(agent)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None:
            return
        with self._lock:
            entry = self._span_attempt.pop(context.span_id, None)
            self._span_agent.pop(context.span_id, None)
            self._excluded.discard(context.span_id)
        if entry is None:
            return
        core = to_core_span(span, entry.ctx.rollout_id, entry.ctx.attempt_id)
        entry.ctx.record_span(core)
        if entry.sink is not None:
            entry.sink(entry.ctx, core)

    def shutdown(self) -> None:
        with self._lock:
            self._by_trace.clear()
            self._by_attempt.clear()
            self._span_attempt.clear()
            self._span_agent.clear()
            self._excluded.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # spans are handed over synchronously in on_end; nothing is buffered here
