"""Entry point of ``agentlightning-agentops``: registers the ``agentops`` tracer. Imports nothing heavy."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


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
