"""Agent Lightning support for MCP (Model Context Protocol) tools.

``agentlightning_mcp.instrument()`` (or ``get_adapter("mcp").wrap(agent)``) makes every
``mcp.ClientSession.call_tool`` an ``execute_tool <name>`` span with the arguments and the
result, inside the rollout that made it. :func:`openai_tools` and :func:`call_openai_tool` are the
glue a plain OpenAI-client agent needs to offer an MCP server's tools to the model.
"""

from __future__ import annotations

from .adapter import MCPAdapter
from .instrument import instrument, is_instrumented, result_text, tool_call_id, uninstrument
from .tools import call_openai_tool, openai_tools

__all__ = [
    "MCPAdapter",
    "call_openai_tool",
    "instrument",
    "is_instrumented",
    "openai_tools",
    "result_text",
    "tool_call_id",
    "uninstrument",
]
