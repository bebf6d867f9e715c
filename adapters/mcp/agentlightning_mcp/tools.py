"""MCP tools for an agent written with the plain OpenAI client.

A framework with its own MCP client needs none of this (the adapter's instrumentation sees its
calls). An agent that talks to the model with ``openai`` directly needs two small pieces of glue:
the session's tools as OpenAI ``tools=[...]`` entries, and a model's ``tool_call`` run against
the session with a string back for the ``tool`` message. Bad tool calls (arguments that are not
JSON, a tool the server does not have) come back to the model as an error string, never as an
exception that ends the rollout: the model made the mistake, and the reward should say so.
"""

from __future__ import annotations

import json
from typing import Any

from .instrument import field, is_error, result_text, tool_call_id


async def openai_tools(session: Any) -> list[dict[str, Any]]:
    """The session's tools in the OpenAI ``tools=[...]`` shape (``type: function``)."""
    listed = await session.list_tools()
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description or "",
                "parameters": field(tool, "input_schema", "inputSchema")
                or {"type": "object", "properties": {}},
            },
        }
        for tool in listed.tools
    ]


def _field(tool_call: Any, *path: str) -> Any:
    value = tool_call
    for key in path:
        value = value.get(key) if isinstance(value, dict) else getattr(value, key, None)
    return value


async def call_openai_tool(session: Any, tool_call: Any, *, known: set[str] | None = None) -> str:
    """Run one OpenAI ``tool_call`` (an SDK object or its dict) on the MCP session.

    Returns the text for the ``{"role": "tool", "tool_call_id": ..., "content": ...}`` message.
    ``known`` (the names from :func:`openai_tools`) lets an unknown tool be answered without a
    round trip to the server.
    """
    name = str(_field(tool_call, "function", "name") or "")
    raw = _field(tool_call, "function", "arguments") or "{}"
    call_id = _field(tool_call, "id")
    if known is not None and name not in known:
        return f"error: unknown tool {name!r}; available tools: {', '.join(sorted(known)) or 'none'}"
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        return f"error: the arguments of {name!r} are not a JSON object ({exc}); got {str(raw)[:200]!r}"
    if not isinstance(arguments, dict):
        return f"error: the arguments of {name!r} must be a JSON object, got {type(arguments).__name__}"
    with tool_call_id(str(call_id) if call_id else None):
        result = await session.call_tool(name, arguments)
    text = result_text(result)
    return f"error: {text}" if is_error(result) and not text.startswith("error") else text
