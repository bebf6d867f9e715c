"""LangGraph support for Agent Lightning.

``wrap(build_graph, reward=...)`` turns a LangGraph graph into a ``LitAgent`` in one line; every
node function runs as an agent span named after the node and every LangChain tool call as a tool
span, so ``agent_match`` can pick which nodes' LLM calls are trained.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import LangGraphAdapter, wrap
    from .agent import LangGraphAgent

#: public name → module; imported on first use so loading the plugin entry point stays light
_EXPORTS = {
    "LangGraphAdapter": "adapter",
    "LangGraphAgent": "agent",
    "wrap": "adapter",
}

__all__ = ["LangGraphAdapter", "LangGraphAgent", "wrap"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
