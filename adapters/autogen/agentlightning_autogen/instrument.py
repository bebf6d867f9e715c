"""Tool arguments and results on AutoGen's ``execute_tool`` spans.

AutoGen opens the tool span itself (``trace_tool_span`` in ``BaseTool.run_json`` and in
``McpWorkbench.call_tool``) but records neither arguments nor result, and the result is only
known after that span has ended. So both call sites are wrapped: the wrapper hands the arguments
to a replacement ``trace_tool_span`` (same name and GenAI attributes) that leaves the span open,
then writes the result onto it and ends it. Calls outside a wrapper get a normal, closed span.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from agentlightning_otel.spans import to_json
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agentlightning_core.types import semconv

_lock = threading.Lock()
_originals: dict[str, tuple[Any, str, Any]] = {}
_pending: ContextVar[dict[str, Any] | None] = ContextVar("agl_autogen_tool_call", default=None)

#: modules that call ``trace_tool_span`` by their own global name
_SPAN_SITES = ("autogen_core.tools._base", "autogen_ext.tools.mcp._workbench")


@contextmanager
def trace_tool_span(
    tool_name: str,
    *,
    tracer: trace.Tracer | None = None,
    parent: trace.Span | None = None,
    tool_description: str | None = None,
    tool_call_id: str | None = None,
) -> Iterator[trace.Span]:
    holder = _pending.get()
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION: "execute_tool",
        semconv.GEN_AI_SYSTEM: "autogen",
        semconv.GEN_AI_TOOL_NAME: tool_name,
    }
    if tool_description is not None:
        attributes["gen_ai.tool.description"] = tool_description
    if tool_call_id is not None:
        attributes[semconv.GEN_AI_TOOL_CALL_ID] = tool_call_id
    own = holder is not None and "span" not in holder
    if own and holder is not None:
        attributes[semconv.TOOL_ARGUMENTS] = to_json(dict(holder["args"] or {}))
    span = (tracer or trace.get_tracer("autogen-core")).start_span(
        f"execute_tool {tool_name}",
        kind=SpanKind.INTERNAL,
        context=trace.set_span_in_context(parent) if parent is not None else None,
        attributes=attributes,
    )
    if own and holder is not None:
        holder["span"] = span
    with trace.use_span(span, end_on_exit=not own, record_exception=True, set_status_on_exception=True):
        yield span


def _result_text(result: Any, tool: Any) -> tuple[str, bool]:
    parts = getattr(result, "result", None)
    if isinstance(parts, list):  # a workbench ToolResult
        text = "".join(str(getattr(part, "content", "")) for part in parts)
        return text, bool(getattr(result, "is_error", False))
    try:
        return str(tool.return_value_as_string(result)), False
    except Exception:  # a result that does not print must not fail the call
        return repr(result), False


def _wrap_call(original: Any, args_index: int) -> Any:
    @functools.wraps(original)
    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = (
            args[args_index] if len(args) > args_index else kwargs.get("arguments", kwargs.get("args"))
        )
        holder: dict[str, Any] = {"args": arguments}
        token = _pending.set(holder)
        try:
            result = await original(self, *args, **kwargs)
            span = holder.get("span")
            if span is not None:
                text, is_error = _result_text(result, self)
                span.set_attribute(semconv.TOOL_RESULT, to_json(text))
                if is_error:
                    span.set_status(trace.Status(trace.StatusCode.ERROR, text[:200]))
            return result
        finally:
            _pending.reset(token)
            span = holder.get("span")
            if span is not None:
                span.end()

    return call


def _targets() -> list[tuple[str, Any, str, Any]]:
    from autogen_core.tools import BaseTool

    targets: list[tuple[str, Any, str, Any]] = [
        ("run_json", BaseTool, "run_json", _wrap_call(BaseTool.run_json, 0))
    ]
    for module_name in _SPAN_SITES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # autogen-ext without its mcp extra
            continue
        targets.append((f"{module_name}.trace_tool_span", module, "trace_tool_span", trace_tool_span))
    try:
        from autogen_ext.tools.mcp import McpWorkbench
    except ImportError:
        pass
    else:
        targets.append(("mcp.call_tool", McpWorkbench, "call_tool", _wrap_call(McpWorkbench.call_tool, 1)))
    return targets


def instrument() -> None:
    with _lock:
        if _originals:
            return
        for key, owner, attr, replacement in _targets():
            _originals[key] = (owner, attr, getattr(owner, attr))
            setattr(owner, attr, replacement)


def uninstrument() -> None:
    with _lock:
        for owner, attr, original in _originals.values():
            setattr(owner, attr, original)
        _originals.clear()


def is_instrumented() -> bool:
    return bool(_originals)
