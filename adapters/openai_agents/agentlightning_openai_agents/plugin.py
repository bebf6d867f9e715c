"""Entry point of ``agentlightning-openai-agents``: registers the ``openai_agents`` adapter (lazily)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"agents": None, "openai": None}


@needs("agentlightning-openai-agents", DRIVERS, what="adapter 'openai_agents'")
def _adapter() -> Any:
    from .adapter import OpenAIAgentsAdapter

    return OpenAIAgentsAdapter()


@hookimpl
def agl_register_adapters(register: Register) -> None:
    register(
        "openai_agents",
        _adapter,
        description="OpenAI Agents SDK: agent, tool and handoff spans; Agent → LitAgent",
    )
