"""Entry point of ``agentlightning-autogen``: registers the ``autogen`` adapter (lazily)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {
    "autogen_core": None,
    "autogen_agentchat": None,
    "autogen_ext": None,
    "openai": None,
}


@needs("agentlightning-autogen", DRIVERS, what="adapter 'autogen'")
def _adapter() -> Any:
    from .adapter import AutoGenAdapter

    return AutoGenAdapter()


@hookimpl
def agl_register_adapters(register: Register) -> None:
    register(
        "autogen", _adapter, description="AutoGen agents and teams: agent and tool spans, team → LitAgent"
    )
