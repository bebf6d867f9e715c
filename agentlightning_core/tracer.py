"""Tracers turn what happens inside agent code into spans for the store.

The runner wraps every attempt in ``tracer.trace_attempt(ctx)``; spans the tracer produces go to
``ctx.record_span``, and the runner sends them to the store in batches. LLM calls through the
proxy are recorded by the proxy whatever the tracer; a tracer adds what only the agent's process
can see (agent steps, tool calls, framework internals).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, ClassVar

from .runtime.context import AttemptContext

if TYPE_CHECKING:
    from .plugin_manager import AglPluginManager


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


#: tried in order when no tracer is named: the first one a plugin registered wins, so
#: installing ``agentlightning-otel`` makes ``otel`` the default without any configuration
DEFAULT_TRACER_PREFERENCE = ("otel", "noop")


def default_tracer_name(manager: AglPluginManager | None = None) -> str:
    """The tracer used when none is named: ``otel`` once installed, else ``noop``."""
    from .plugin_manager import get_plugin_manager

    registry = (manager or get_plugin_manager()).registry("agl_register_tracers")
    return next((name for name in DEFAULT_TRACER_PREFERENCE if name in registry), "noop")
