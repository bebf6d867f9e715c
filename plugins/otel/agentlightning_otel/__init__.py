"""OpenTelemetry tracer for Agent Lightning.

``OtelTracer`` (registered as ``otel``) records every OpenTelemetry span that agent code and its
framework produce during a rollout into that rollout's attempt, and propagates W3C trace context
into HTTP calls so the LLM proxy's spans become children of the agent's spans.
"""

from __future__ import annotations

from .spans import agent_span, set_tool_result, tool_span
from .tracer import OtelTracer
from .tree import SpanTree

__all__ = ["OtelTracer", "SpanTree", "agent_span", "set_tool_result", "tool_span"]
