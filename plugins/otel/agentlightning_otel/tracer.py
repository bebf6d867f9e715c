"""``OtelTracer``: OpenTelemetry spans of the agent's process into the rollout's attempt.

Each attempt runs under a root span ``agentlightning.rollout`` that starts a fresh trace; every
span started under it (by the adapters, the framework's own instrumentation or user code) is
converted when it ends and handed to ``ctx.record_span``, and the runner ships them to the store
in batches. HTTP calls carry ``traceparent`` so the proxy's LLM spans join the same tree.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import ClassVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from agentlightning_core.runtime.context import AttemptContext
from agentlightning_core.tracer import Tracer
from agentlightning_core.types import Span

from . import propagation
from .provider import acquire_router
from .router import ATTEMPT_ID, ROLLOUT_ID, AttemptRouter
from .tree import SpanTree

log = logging.getLogger(__name__)

ROOT_SPAN_NAME = "agentlightning.rollout"


class OtelTracer(Tracer):
    """The ``otel`` tracer.

    :param provider: an SDK ``TracerProvider`` to add the store-bound processor to; default the
        global one when it is an SDK provider (your own exporters keep working), else a new
        provider that becomes global.
    :param propagate: inject ``traceparent`` / ``X-AGL-Agent`` into httpx, aiohttp and requests
        calls made during rollouts (how proxy LLM spans are linked to agent spans).
    """

    name: ClassVar[str] = "otel"

    def __init__(self, provider: TracerProvider | None = None, *, propagate: bool = True) -> None:
        self._given = provider
        self.propagate = propagate
        self.provider: TracerProvider | None = None
        self.router: AttemptRouter | None = None
        self._last: list[Span] | None = None

    def init_worker(self, worker_id: str) -> None:
        self.provider, self.router, created = acquire_router(self._given)
        if self.propagate:
            propagation.install(self.router)
        log.debug("otel tracer ready for worker %s (own provider: %s)", worker_id, created)

    def teardown_worker(self, worker_id: str) -> None:
        if self.provider is not None:
            self.provider.force_flush()

    @contextlib.asynccontextmanager
    async def trace_attempt(self, ctx: AttemptContext) -> AsyncIterator[None]:
        if self.router is None or self.provider is None:
            self.init_worker(ctx.worker_id or "local")
        assert self.router is not None and self.provider is not None
        collected: list[Span] = []
        self.router.open_attempt(ctx, lambda _ctx, span: collected.append(span))
        tracer = self.provider.get_tracer("agentlightning")
        root = tracer.start_span(
            ROOT_SPAN_NAME,
            context=otel_context.Context(),  # a fresh trace per attempt, whatever is current
            attributes={ROLLOUT_ID: ctx.rollout_id, ATTEMPT_ID: ctx.attempt_id},
        )
        self.router.bind_trace(ctx.attempt_id, root.get_span_context().trace_id)
        token = otel_context.attach(trace.set_span_in_context(root))
        try:
            yield
        except BaseException as exc:
            root.record_exception(exc)
            root.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            otel_context.detach(token)
            root.end()
            self.router.close_attempt(ctx.attempt_id)
            self._last = collected

    def last_trace(self) -> SpanTree:
        """The span tree of the last attempt this tracer finished (agent-side spans; the proxy's
        LLM spans are in the store: ``SpanTree(await store.query_spans(rollout_id))``)."""
        if self._last is None:
            raise LookupError(
                "no attempt has finished under this tracer yet; last_trace() has nothing to show"
            )
        return SpanTree(self._last)
