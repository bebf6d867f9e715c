"""Entry point of ``agentlightning-agentops``: registers the ``agentops`` tracer. Imports nothing heavy."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"agentops": None, "opentelemetry": None}


@needs("agentlightning-agentops", DRIVERS, what="tracer 'agentops'")
def _tracer() -> Any:
    from .tracer import AgentOpsTracer

    return AgentOpsTracer()


@hookimpl
def agl_register_tracers(register: Register) -> None:
    register(
        "agentops",
        _tracer,
        description="AgentOps' instrumentation (OpenAI, Anthropic, CrewAI, AG2, ...) into the store; local only",
    )
