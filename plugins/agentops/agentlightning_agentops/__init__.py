"""Agent Lightning's ``agentops`` tracer: the spans of every library AgentOps instruments, recorded
into the store; nothing leaves the machine unless the application itself initialised AgentOps
with a key. Extends the ``otel`` tracer."""

from __future__ import annotations

from .kinds import AgentOpsKinds, span_type
from .tracer import AgentOpsTracer, instrument_installed, uninstrument_all, user_provider

__all__ = [
    "AgentOpsKinds",
    "AgentOpsTracer",
    "instrument_installed",
    "span_type",
    "uninstrument_all",
    "user_provider",
]
