"""Entry point of ``agentlightning-crewai``: registers the ``crewai`` adapter (lazily)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"crewai": None, "opentelemetry": None}


@needs("agentlightning-crewai", DRIVERS, what="adapter 'crewai'")
def _adapter() -> Any:
    from .adapter import CrewAIAdapter

    return CrewAIAdapter()


@hookimpl
def agl_register_adapters(register: Register) -> None:
    register(
        "crewai", _adapter, description="CrewAI crews: LLM calls by agent role, tool spans, crew → LitAgent"
    )
