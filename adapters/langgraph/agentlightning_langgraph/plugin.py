"""Entry point of ``agentlightning-langgraph``: registers the ``langgraph`` adapter (lazily)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def _adapter() -> Any:
    from .adapter import LangGraphAdapter

    return LangGraphAdapter()


@hookimpl
def agl_register_adapters(register: Register) -> None:
    register("langgraph", _adapter, description="LangGraph graphs: node and tool spans, graph → LitAgent")
