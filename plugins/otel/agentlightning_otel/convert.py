"""OpenTelemetry ``ReadableSpan`` → the core's :class:`~agentlightning_core.types.Span`.

OpenTelemetry attributes hold only primitives and lists, so structured values (tool arguments
and results, LLM bodies) travel as JSON strings; they are decoded back here so the store and
``TraceToTriplet`` see the same shapes whichever tracer produced them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from agentlightning_core.types import Span, SpanEvent, SpanStatus, SpanStatusCode, semconv

#: gen_ai.operation.name values (GenAI semantic conventions) → agentlightning.span_type
OPERATION_TYPES = {"invoke_agent": "agent", "execute_tool": "tool"}
#: attributes stored as JSON strings in OpenTelemetry and decoded into objects in the store
JSON_ATTRIBUTES = (semconv.TOOL_ARGUMENTS, semconv.TOOL_RESULT, semconv.LLM_REQUEST, semconv.LLM_RESPONSE)

_STATUS = {
    StatusCode.UNSET: SpanStatusCode.UNSET,
    StatusCode.OK: SpanStatusCode.OK,
    StatusCode.ERROR: SpanStatusCode.ERROR,
}
_KIND = {
    SpanKind.INTERNAL: "internal",
    SpanKind.CLIENT: "client",
    SpanKind.SERVER: "server",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}


def trace_id_hex(trace_id: int) -> str:
    return format(trace_id, "032x")


def span_id_hex(span_id: int) -> str:
    return format(span_id, "016x")


def span_type_of(attributes: Mapping[str, Any]) -> str | None:
    """The span type an attribute set implies: explicit ``agentlightning.span_type`` first, then
    the GenAI operation (``invoke_agent`` → agent, ``execute_tool`` → tool)."""
    explicit = attributes.get(semconv.SPAN_TYPE)
    if explicit:
        return str(explicit)
    return OPERATION_TYPES.get(str(attributes.get(semconv.GEN_AI_OPERATION, "")))


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def to_core_span(span: ReadableSpan, rollout_id: str, attempt_id: str) -> Span:
    """Convert one finished OpenTelemetry span, tagged with its rollout and attempt."""
    context = span.context
    assert context is not None, "a finished SDK span always has a context"
    attributes = {key: _plain(value) for key, value in (span.attributes or {}).items()}
    for key in JSON_ATTRIBUTES:
        if key in attributes:
            attributes[key] = _decode(attributes[key])
    kind = span_type_of(attributes)
    if kind is not None:
        attributes[semconv.SPAN_TYPE] = kind
    start = (span.start_time or 0) / 1e9
    return Span(
        rollout_id=rollout_id,
        attempt_id=attempt_id,
        trace_id=trace_id_hex(context.trace_id),
        span_id=span_id_hex(context.span_id),
        parent_id=span_id_hex(span.parent.span_id) if span.parent is not None else None,
        name=span.name,
        kind=_KIND.get(span.kind, "internal"),
        start_time=start,
        end_time=span.end_time / 1e9 if span.end_time else None,
        attributes=attributes,
        events=[
            SpanEvent(
                name=event.name,
                timestamp=event.timestamp / 1e9 if event.timestamp else start,
                attributes={k: _plain(v) for k, v in (event.attributes or {}).items()},
            )
            for event in span.events
        ],
        status=SpanStatus(
            code=_STATUS.get(span.status.status_code, SpanStatusCode.UNSET),
            description=span.status.description,
        ),
        resource={k: _plain(v) for k, v in span.resource.attributes.items()},
    )
