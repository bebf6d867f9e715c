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


#: tried in order when no tracer is named: the first one a plugin registered wins
DEFAULT_TRACER_PREFERENCE = ("otel", "noop")


def resolve_tracer(tracer: Tracer | str | None = None) -> Tracer:
    """The tracer a runner uses: an instance as given, a registered name, or (``None``) the
    preferred installed one — ``otel`` once ``agentlightning-otel`` is installed, else ``noop``."""
    if isinstance(tracer, Tracer):
        return tracer
    from .plugin_manager import get_plugin_manager

    manager = get_plugin_manager()
    if tracer is None:
        registry = manager.registry("agl_register_tracers")
        tracer = next((n for n in DEFAULT_TRACER_PREFERENCE if n in registry), "noop")
    made = manager.tracer_factory(tracer)()
    if not isinstance(made, Tracer):
        raise TypeError(
            f"tracer {tracer!r} is a {type(made).__name__}, not an agentlightning_core.tracer.Tracer"
        )
    return made
