"""Agents SDK spans → OpenTelemetry spans (GenAI conventions), current while they run.

Generation and response spans are not mirrored: the LLM proxy records every model call with its
token ids, and a second LLM span per call would double the triplets.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from agentlightning_otel.spans import to_json
from agents.tracing import TracingProcessor
from opentelemetry import context as otel_context
from opentelemetry import trace

from agentlightning_core.types import semconv

log = logging.getLogger(__name__)

SYSTEM = "openai_agents"


def _describe(data: Any) -> tuple[str, dict[str, Any]] | None:
    """(span name, attributes at start) for the SDK span kinds that are mirrored."""
    kind = getattr(data, "type", None)
    if kind == "agent":
        attrs = {
            semconv.GEN_AI_OPERATION: "invoke_agent",
            semconv.AGENT_NAME: data.name,
            semconv.SPAN_TYPE: "agent",
            semconv.GEN_AI_SYSTEM: SYSTEM,
        }
        if data.tools:
            attrs["agentlightning.agent.tools"] = list(data.tools)
        if data.handoffs:
            attrs["agentlightning.agent.handoffs"] = list(data.handoffs)
        return f"invoke_agent {data.name}", attrs
    if kind == "function":
        return f"execute_tool {data.name}", {
            semconv.GEN_AI_OPERATION: "execute_tool",
            semconv.GEN_AI_TOOL_NAME: data.name,
            semconv.SPAN_TYPE: "tool",
            semconv.GEN_AI_SYSTEM: SYSTEM,
        }
    if kind == "handoff":
        return "handoff", {semconv.SPAN_TYPE: "other", "agentlightning.handoff.from": data.from_agent or ""}
    if kind in ("guardrail", "custom", "mcp_tools"):
        return f"{kind} {getattr(data, 'name', '')}".strip(), {semconv.SPAN_TYPE: "other"}
    return None


def _finish_attributes(span: Any, data: Any) -> None:
    kind = getattr(data, "type", None)
    if kind == "function":
        if data.input is not None:
            span.set_attribute(
                semconv.TOOL_ARGUMENTS, data.input if isinstance(data.input, str) else to_json(data.input)
            )
        if data.output is not None:
            span.set_attribute(
                semconv.TOOL_RESULT,
                to_json(data.output if isinstance(data.output, (str, int, float)) else str(data.output)),
            )
    elif kind == "handoff":
        span.set_attribute("agentlightning.handoff.from", data.from_agent or "")
        span.set_attribute("agentlightning.handoff.to", data.to_agent or "")


class OtelBridge(TracingProcessor):
    """A ``TracingProcessor`` for ``agents.add_trace_processor``; one per process is enough."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Any, object]] = {}
        #: off after ``uninstrument()`` (the SDK offers no way to remove one processor)
        self.enabled = True

    def on_trace_start(self, trace_: Any) -> None:
        pass

    def on_trace_end(self, trace_: Any) -> None:
        pass

    def on_span_start(self, span: Any) -> None:
        if not self.enabled:
            return
        described = _describe(span.span_data)
        if described is None:
            return
        name, attrs = described
        parent = None
        if span.parent_id:
            with self._lock:
                parent = self._open.get(span.parent_id)
        parent_ctx = trace.set_span_in_context(parent[0]) if parent is not None else None
        otel_span = trace.get_tracer("agentlightning.openai_agents").start_span(
            name, context=parent_ctx, attributes=attrs
        )
        token = otel_context.attach(trace.set_span_in_context(otel_span))
        with self._lock:
            self._open[span.span_id] = (otel_span, token)

    def on_span_end(self, span: Any) -> None:
        with self._lock:
            entry = self._open.pop(span.span_id, None)
        if entry is None:
            return
        otel_span, token = entry
        _finish_attributes(otel_span, span.span_data)
        error = getattr(span, "error", None)
        if error:
            otel_span.set_status(trace.Status(trace.StatusCode.ERROR, str(error.get("message", error))))
        try:
            otel_context.detach(token)  # type: ignore[arg-type]
        except Exception:  # ended in another context than it started in; the span is still right
            log.debug("agents span %s ended outside the context it started in", span.span_id)
        otel_span.end()

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass
