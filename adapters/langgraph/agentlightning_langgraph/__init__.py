"""LangGraph support for Agent Lightning.

``wrap(build_graph, reward=...)`` turns a LangGraph graph into a ``LitAgent`` in one line; every
node function runs as an agent span named after the node and every LangChain tool call as a tool
span, so ``agent_match`` can pick which nodes' LLM calls are trained.
"""

from __future__ import annotations

from .adapter import LangGraphAdapter, wrap
from .agent import LangGraphAgent

__all__ = ["LangGraphAdapter", "LangGraphAgent", "wrap"]
