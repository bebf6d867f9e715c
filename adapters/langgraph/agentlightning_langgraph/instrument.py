"""Patches that make LangGraph runs visible: node functions and LangChain tools.

A node function is wrapped when it is added to a ``StateGraph`` (so build graphs after
``instrument()``, which ``wrap`` calls): it then runs inside ``invoke_agent <node>``, and the
LLM calls it makes carry that span's trace context and the node name to the proxy. Runnables
added as nodes (``ToolNode``, subgraphs) are left as they are; their tool calls are still
traced, since every ``BaseTool.run`` / ``arun`` runs inside ``execute_tool <tool>``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any

from agentlightning_otel import agent_span, set_tool_result, tool_span

SYSTEM = "langgraph"
_WRAPPED = "__agl_node__"
_lock = threading.Lock()
_originals: dict[str, tuple[Any, str, Any]] = {}


def node_name(node: Any) -> str:
    return str(getattr(node, "name", None) or getattr(node, "__name__", None) or type(node).__name__)


def wrap_node(name: str, action: Any) -> Any:
    """``action`` run as agent ``name``; signature and sync/async kind are kept (LangGraph
    inspects both to decide what to pass and how to call)."""
    if getattr(action, _WRAPPED, None) == name:
        return action
    if inspect.iscoroutinefunction(action):

        @functools.wraps(action)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with agent_span(name, system=SYSTEM):
                return await action(*args, **kwargs)

        setattr(run_async, _WRAPPED, name)
        return run_async

    @functools.wraps(action)
    def run(*args: Any, **kwargs: Any) -> Any:
        with agent_span(name, system=SYSTEM):
            return action(*args, **kwargs)

    setattr(run, _WRAPPED, name)
    return run


def _patch_add_node(original: Any) -> Any:
    @functools.wraps(original)
    def add_node(self: Any, node: Any, action: Any = None, **kwargs: Any) -> Any:
        if action is None and not isinstance(node, str):
            node, action = node_name(node), node
        if isinstance(node, str) and (inspect.isfunction(action) or inspect.ismethod(action)):
            action = wrap_node(node, action)
        return original(self, node, action, **kwargs)

    return add_node


def _patch_run(original: Any) -> Any:
    @functools.wraps(original)
    def run(self: Any, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        with tool_span(self.name, tool_input, call_id=kwargs.get("tool_call_id"), system=SYSTEM) as span:
            result = original(self, tool_input, *args, **kwargs)
            set_tool_result(span, result)
            return result

    return run


def _patch_arun(original: Any) -> Any:
    @functools.wraps(original)
    async def arun(self: Any, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        with tool_span(self.name, tool_input, call_id=kwargs.get("tool_call_id"), system=SYSTEM) as span:
            result = await original(self, tool_input, *args, **kwargs)
            set_tool_result(span, result)
            return result

    return arun


def instrument() -> None:
    from langchain_core.tools import BaseTool
    from langgraph.graph import StateGraph

    with _lock:
        for key, owner, attr, make in (
            ("add_node", StateGraph, "add_node", _patch_add_node),
            ("run", BaseTool, "run", _patch_run),
            ("arun", BaseTool, "arun", _patch_arun),
        ):
            if key not in _originals:
                original = getattr(owner, attr)
                _originals[key] = (owner, attr, original)
                setattr(owner, attr, make(original))


def uninstrument() -> None:
    with _lock:
        for owner, attr, original in _originals.values():
            setattr(owner, attr, original)
        _originals.clear()


def is_instrumented() -> bool:
    return bool(_originals)
