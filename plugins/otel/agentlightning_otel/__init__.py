"""OpenTelemetry tracer for Agent Lightning.

``OtelTracer`` (registered as ``otel``) records every OpenTelemetry span that agent code and its
framework produce during a rollout into that rollout's attempt, and propagates W3C trace context
into HTTP calls so the LLM proxy's spans become children of the agent's spans.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .spans import agent_span, set_tool_result, tool_span
    from .tracer import OtelTracer
    from .tree import SpanTree

#: public name → module; imported on first use so loading the plugin entry point stays light
_EXPORTS = {
    "OtelTracer": "tracer",
    "SpanTree": "tree",
    "agent_span": "spans",
    "set_tool_result": "spans",
    "tool_span": "spans",
}

__all__ = ["OtelTracer", "SpanTree", "agent_span", "set_tool_result", "tool_span"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
