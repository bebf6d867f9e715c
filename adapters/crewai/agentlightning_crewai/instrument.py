"""Agent and tool spans for CrewAI.

* **Agents.** The proxy attributes an LLM call to the agent whose span is current when the HTTP
  request leaves (the ``otel`` tracer injects the agent's name into the request). CrewAI has no
  hook around a whole agent turn, so ``Agent.execute_task`` and ``Agent.aexecute_task`` are
  wrapped to run inside ``invoke_agent <role>``: every call CrewAI's LLM makes for that task,
  tool rounds included, then carries the role, and ``agent_match="checker"`` trains one agent
  of a crew.
* **Tools.** CrewAI's public tool-call hooks (``register_before_tool_call_hook`` and its
  ``after`` twin) open and close an ``execute_tool <name>`` span with the arguments and the
  result. Hooks run in the thread that calls the tool, so the open spans are kept per thread.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from agentlightning_otel.spans import agent_span, to_json
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agentlightning_core.types import semconv

SYSTEM = "crewai"
_lock = threading.Lock()
_originals: dict[str, Callable[..., Any]] = {}
_hooks: list[Callable[..., Any]] = []
_open = threading.local()


def _role(agent: Any) -> str:
    return str(getattr(agent, "role", None) or type(agent).__name__)


def _wrap_sync(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def execute_task(self: Any, *args: Any, **kwargs: Any) -> Any:
        with agent_span(_role(self), system=SYSTEM):
            return original(self, *args, **kwargs)

    return execute_task


def _wrap_async(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def aexecute_task(self: Any, *args: Any, **kwargs: Any) -> Any:
        with agent_span(_role(self), system=SYSTEM):
            return await original(self, *args, **kwargs)

    return aexecute_task


def _stack() -> list[trace.Span]:
    stack: list[trace.Span] | None = getattr(_open, "spans", None)
    if stack is None:
        stack = _open.spans = []
    return stack


def before_tool_call(context: Any) -> None:
    """Open the tool's span (never blocks the call: returns ``None``)."""
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION: "execute_tool",
        semconv.GEN_AI_SYSTEM: SYSTEM,
        semconv.SPAN_TYPE: "tool",
        semconv.GEN_AI_TOOL_NAME: str(context.tool_name),
        semconv.TOOL_ARGUMENTS: to_json(dict(context.tool_input or {})),
    }
    agent = getattr(context, "agent", None)
    if agent is not None:
        attributes[semconv.AGENT_NAME] = _role(agent)
    span = trace.get_tracer("agentlightning-crewai").start_span(
        f"execute_tool {context.tool_name}", kind=SpanKind.INTERNAL, attributes=attributes
    )
    _stack().append(span)


def after_tool_call(context: Any) -> None:
    """Close the innermost open tool span with the result (never replaces the result)."""
    stack = _stack()
    if not stack:
        return
    span = stack.pop()
    result = getattr(context, "tool_result", None)
    span.set_attribute(semconv.TOOL_RESULT, to_json(result if result is not None else ""))
    span.end()


def instrument() -> None:
    """Wrap the agents' task execution and register the tool hooks. Idempotent."""
    from crewai import Agent
    from crewai.hooks import register_after_tool_call_hook, register_before_tool_call_hook

    with _lock:
        if _originals:
            return
        for name, wrap in (("execute_task", _wrap_sync), ("aexecute_task", _wrap_async)):
            original = getattr(Agent, name, None)
            if original is not None:
                _originals[name] = original
                setattr(Agent, name, wrap(original))
        register_before_tool_call_hook(before_tool_call)
        register_after_tool_call_hook(after_tool_call)
        _hooks[:] = [before_tool_call, after_tool_call]


def uninstrument() -> None:
    from crewai import Agent
    from crewai.hooks import unregister_after_tool_call_hook, unregister_before_tool_call_hook

    with _lock:
        for name, original in _originals.items():
            setattr(Agent, name, original)
        _originals.clear()
        if _hooks:
            unregister_before_tool_call_hook(before_tool_call)
            unregister_after_tool_call_hook(after_tool_call)
            _hooks.clear()


def is_instrumented() -> bool:
    return bool(_originals)
