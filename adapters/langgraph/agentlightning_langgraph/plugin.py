"""Entry point of ``agentlightning-langgraph``: registers the ``langgraph`` adapter (lazily)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"langgraph": None, "langchain_core": None, "langchain_openai": None}


@needs("agentlightning-langgraph", DRIVERS, what="adapter 'langgraph'")
def _adapter() -> Any:
    from .adapter import LangGraphAdapter

    return LangGraphAdapter()


@hookimpl
def agl_register_adapters(register: Register) -> None:
    register("langgraph", _adapter, description="LangGraph graphs: node and tool spans, graph → LitAgent")
