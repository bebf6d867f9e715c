"""AgentOps' span vocabulary in this project's terms.

AgentOps marks its spans with ``agentops.span.kind`` (``agent``, ``tool``, ``llm``, ``task``,
``workflow``, ...) and names agents and tools in attributes of its own. The store's consumers
(triplets with ``agent_match``, the dashboard) read ``agentlightning.span_type`` and
``gen_ai.agent.name``, so a span processor copies the one onto the other when a span starts,
while its attributes can still be written.

LLM calls that AgentOps' provider instrumentors record (``openai.chat.completion`` and the like)
are marked ``other``, not ``llm``: the proxy already records every call with its token ids, and
counting the same call twice would train on it twice.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from agentlightning_core.types import semconv

from .marking import SOURCE

AGENTOPS_SPAN_KIND = "agentops.span.kind"
#: an AgentOps span kind → this project's span type (kinds not listed become ``other``)
KIND_TYPES = {"agent": "agent", "tool": "tool"}
#: where AgentOps puts the agent's and the tool's name
AGENT_NAME_KEYS = ("agent.name", "agentops.agent.name", "gen_ai.agent.name")
TOOL_NAME_KEYS = ("tool.name", "gen_ai.tool.name")


def span_type(attributes: dict[str, Any]) -> str | None:
    """The span type for AgentOps' attributes, or ``None`` when they name no AgentOps kind."""
    kind = attributes.get(AGENTOPS_SPAN_KIND)
    return None if kind is None else KIND_TYPES.get(str(kind).lower(), "other")


def is_agentops(attributes: dict[str, Any]) -> bool:
    """Whether AgentOps made the span: its instrumentors' spans are tagged by :mod:`.marking`, its
    decorators' spans carry an AgentOps kind."""
    return attributes.get(SOURCE) == "agentops" or AGENTOPS_SPAN_KIND in attributes


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attributes[k] for k in keys if attributes.get(k)), None)


class AgentOpsKinds(SpanProcessor):
    """Sets ``agentlightning.span_type`` (and the agent or tool name) on AgentOps' spans."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = dict(span.attributes or {})
        if not is_agentops(attributes) or attributes.get(semconv.SPAN_TYPE):
            return
        span.set_attribute(SOURCE, "agentops")
        kind = span_type(attributes)
        if kind is None:  # LLM spans get their attributes after the start: they stay ``other``
            return
        span.set_attribute(semconv.SPAN_TYPE, kind)
        if kind == "agent" and (name := _first(attributes, AGENT_NAME_KEYS) or span.name):
            span.set_attribute(semconv.AGENT_NAME, str(name).removesuffix(".agent"))
        if kind == "tool" and (name := _first(attributes, TOOL_NAME_KEYS) or span.name):
            span.set_attribute(semconv.GEN_AI_TOOL_NAME, str(name).removesuffix(".tool"))

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
