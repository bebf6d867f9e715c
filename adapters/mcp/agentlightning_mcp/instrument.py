"""One ``execute_tool`` span per MCP tool call, with its arguments and result.

Every MCP client, whatever framework sits on top (AutoGen's ``McpWorkbench``, the OpenAI Agents
SDK's ``MCPServer*``, LangChain's adapters or a hand-written loop), ends in
``mcp.ClientSession.call_tool``. Wrapping that one method gives every framework the same span,
in the GenAI conventions the ``otel`` tracer already converts (``gen_ai.operation.name =
execute_tool`` becomes a ``tool`` span), so the triplet builder and the dashboard see MCP tools
like any other tool. The span is made current while the call runs, so a server that calls the
model back (sampling) is attributed below it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from agentlightning_otel.spans import to_json
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agentlightning_core.types import semconv

#: MCP's own method name for a tool call (``mcp.method.name`` in the OpenTelemetry MCP conventions)
METHOD = "tools/call"
MCP_METHOD_NAME = "mcp.method.name"

_lock = threading.Lock()
_original: list[Callable[..., Awaitable[Any]]] = []
#: the OpenAI ``tool_call.id`` the next call answers, set by :func:`tool_call_id`
_call_id: ContextVar[str | None] = ContextVar("agl_mcp_tool_call_id", default=None)


@contextmanager
def tool_call_id(call_id: str | None) -> Iterator[None]:
    """Tag the MCP calls made inside this block with the model's ``tool_call.id``, so a tool
    span can be matched with the LLM call that asked for it."""
    token = _call_id.set(call_id)
    try:
        yield
    finally:
        _call_id.reset(token)


def field(obj: Any, *names: str) -> Any:
    """The first of ``names`` that ``obj`` has: mcp 1.x spells fields in camelCase
    (``isError``), mcp 2.x in snake_case (``is_error``); both are supported."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def is_error(result: Any) -> bool:
    return bool(field(result, "is_error", "isError"))


def result_text(result: Any) -> str:
    """The text an MCP ``CallToolResult`` carries: its text parts joined, else its structured
    content as JSON, else a placeholder naming the part types (images, audio, resources)."""
    parts = list(getattr(result, "content", None) or [])
    texts = [str(part.text) for part in parts if getattr(part, "type", None) == "text"]
    if texts:
        return "\n".join(texts)
    structured = field(result, "structured_content", "structuredContent")
    if structured is not None:
        return to_json(structured)
    if parts:
        return "[" + ", ".join(str(getattr(part, "type", type(part).__name__)) for part in parts) + "]"
    return ""


def _wrap(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(original)
    async def call_tool(
        self: Any, name: str, arguments: dict[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        attributes: dict[str, Any] = {
            semconv.GEN_AI_OPERATION: "execute_tool",
            semconv.GEN_AI_SYSTEM: "mcp",
            semconv.GEN_AI_TOOL_NAME: name,
            MCP_METHOD_NAME: METHOD,
            semconv.TOOL_ARGUMENTS: to_json(dict(arguments or {})),
        }
        call_id = _call_id.get()
        if call_id is not None:
            attributes[semconv.GEN_AI_TOOL_CALL_ID] = call_id
        tracer = trace.get_tracer("agentlightning-mcp")
        with tracer.start_as_current_span(
            f"execute_tool {name}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=True,
            set_status_on_exception=True,
        ) as span:
            result = await original(self, name, arguments, *args, **kwargs)
            text = result_text(result)
            span.set_attribute(semconv.TOOL_RESULT, to_json(text))
            if is_error(result):
                span.set_status(trace.Status(trace.StatusCode.ERROR, text[:200]))
            return result

    return call_tool


def instrument() -> None:
    """Wrap ``mcp.ClientSession.call_tool``. Idempotent and thread-safe."""
    from mcp import ClientSession

    with _lock:
        if _original:
            return
        original = ClientSession.call_tool
        _original.append(original)
        ClientSession.call_tool = _wrap(original)  # type: ignore[method-assign,assignment]


def uninstrument() -> None:
    """Put ``mcp.ClientSession.call_tool`` back."""
    from mcp import ClientSession

    with _lock:
        if _original:
            ClientSession.call_tool = _original.pop()  # type: ignore[method-assign,assignment]


def is_instrumented() -> bool:
    return bool(_original)
