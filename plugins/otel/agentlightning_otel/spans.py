"""Span helpers for framework adapters: an agent step and a tool call, in GenAI conventions.

Both are ordinary OpenTelemetry spans made current while the block runs, so the LLM calls
inside an agent step carry its ``traceparent`` and name to the proxy. They are no-ops (cheap
non-recording spans) when no SDK provider is installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from agentlightning_core.types import semconv

TRACER_NAME = "agentlightning"


def to_json(value: Any) -> str:
    """A JSON string for an attribute (OpenTelemetry attributes hold no nested objects)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps(str(value))


@contextmanager
def agent_span(name: str, *, system: str | None = None, **attributes: Any) -> Iterator[Span]:
    """Run a block as agent ``name`` (``invoke_agent {name}``, ``gen_ai.agent.name=name``)."""
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION: "invoke_agent",
        semconv.AGENT_NAME: name,
        semconv.SPAN_TYPE: "agent",
        **attributes,
    }
    if system:
        attrs[semconv.GEN_AI_SYSTEM] = system
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        f"invoke_agent {name}", kind=SpanKind.INTERNAL, attributes=attrs
    ) as span:
        yield span


@contextmanager
def tool_span(
    name: str, arguments: Any = None, *, call_id: str | None = None, system: str | None = None
) -> Iterator[Span]:
    """Run a block as a call of tool ``name``; record its result with :func:`set_tool_result`."""
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION: "execute_tool",
        semconv.GEN_AI_TOOL_NAME: name,
        semconv.SPAN_TYPE: "tool",
    }
    if arguments is not None:
        attrs[semconv.TOOL_ARGUMENTS] = to_json(arguments)
    if call_id:
        attrs[semconv.GEN_AI_TOOL_CALL_ID] = call_id
    if system:
        attrs[semconv.GEN_AI_SYSTEM] = system
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        f"execute_tool {name}", kind=SpanKind.INTERNAL, attributes=attrs
    ) as span:
        yield span


def set_tool_result(span: Span, result: Any) -> None:
    span.set_attribute(semconv.TOOL_RESULT, to_json(result))
