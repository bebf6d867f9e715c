"""The ``demotracer`` tracer: one span per attempt, with how long the agent's code took.

A tracer sees what only the agent's process can see. Hook your framework or telemetry library in
``init_worker`` / ``trace_attempt`` and turn what it reports into :class:`~agentlightning_core.Span`
records with ``ctx.record_span``; the runner sends them to the store with the attempt's ids.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from agentlightning_core import Span
from agentlightning_core.runtime.context import AttemptContext
from agentlightning_core.tracer import Tracer


class DemotracerTracer(Tracer):
    name = "demotracer"

    @contextlib.asynccontextmanager
    async def trace_attempt(self, ctx: AttemptContext) -> AsyncIterator[None]:
        span = Span(rollout_id=ctx.rollout_id, attempt_id=ctx.attempt_id, name="demotracer.attempt")
        started = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            span.attributes["error.type"] = type(exc).__name__
            raise  # the tracer records errors, never swallows them
        finally:
            span.end_time = span.start_time + (time.perf_counter() - started)
            span.attributes["demotracer.worker_id"] = ctx.worker_id or ""
            ctx.record_span(span)
