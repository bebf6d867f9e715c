"""One rollout's page: its attempts, its span tree per attempt, each LLM call and the triplets.

The tree is sent as a flat list with parent ids (the browser nests it), so a rollout with a few
thousand spans costs one store query and one JSON document. LLM calls get a summary the page shows
without digging: model, weights version, token counts, latency, prompt, answer, tool calls.
"""

from __future__ import annotations

from typing import Any

from agentlightning_core.errors import NotFoundError
from agentlightning_core.store.base import LightningStore
from agentlightning_core.triplet import TraceToTriplet
from agentlightning_core.types import Span, semconv

from .shaping import Shaper

#: spans read for one page; a rollout with more says so and links to the API
MAX_SPANS = 5000


async def rollout_detail(store: LightningStore, rollout_id: str, shaper: Shaper) -> dict[str, Any]:
    rollout = await store.get_rollout(rollout_id)
    if rollout is None:
        raise NotFoundError(f"rollout {rollout_id!r} does not exist")
    attempts = await store.get_attempts(rollout_id)
    spans = await store.query_spans(rollout_id, limit=MAX_SPANS + 1)
    more = len(spans) > MAX_SPANS
    spans = spans[:MAX_SPANS]
    latest = attempts[-1].attempt_id if attempts else None
    triplets = TraceToTriplet().transform([s for s in spans if s.attempt_id == latest]) if latest else []
    return {
        "rollout": shaper.value(rollout.model_dump(mode="json")),
        "attempts": [a.model_dump(mode="json") for a in attempts],
        "spans": [span_view(s, shaper) for s in spans],
        "spans_cut": more,
        "triplets": [
            shaper.value(t.model_dump(mode="json", exclude={"prompt_token_ids", "response_token_ids"}))
            | {"prompt_tokens": len(t.prompt_token_ids), "response_tokens": len(t.response_token_ids)}
            for t in triplets
        ],
    }


def span_view(span: Span, shaper: Shaper) -> dict[str, Any]:
    """A span as the tree shows it; ``truncated`` says whether "show all" has more."""
    attrs = span.attributes
    view: dict[str, Any] = {
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "attempt_id": span.attempt_id,
        "sequence_id": span.sequence_id,
        "name": shaper.text(span.name),
        "type": span.span_type,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "duration_ms": None if span.end_time is None else round((span.end_time - span.start_time) * 1000, 1),
        "status": span.status.code.value,
        "status_description": shaper.text(span.status.description or ""),
        "attributes": shaper.value(attrs),
        "truncated": shaper.was_cut(attrs) or shaper.was_cut(span.name),
    }
    if span.span_type == "llm":
        view["llm"] = llm_call(attrs, shaper)
    elif span.span_type == "reward":
        view["reward"] = {
            "name": attrs.get(semconv.REWARD_NAME, "reward"),
            "value": attrs.get(semconv.REWARD_VALUE),
        }
    elif span.span_type == "tool":
        view["tool"] = {
            "name": attrs.get(semconv.GEN_AI_TOOL_NAME),
            "arguments": shaper.value(attrs.get(semconv.TOOL_ARGUMENTS)),
            "result": shaper.value(attrs.get(semconv.TOOL_RESULT)),
        }
    return view


def llm_call(attrs: dict[str, Any], shaper: Shaper) -> dict[str, Any]:
    request = attrs.get(semconv.LLM_REQUEST) or {}
    response = attrs.get(semconv.LLM_RESPONSE) or {}
    choices = response.get("choices") or [{}] if isinstance(response, dict) else [{}]
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = first.get("message") or {}
    answer = message.get("content") if isinstance(message, dict) else None
    if answer is None:
        answer = first.get("text")
    return {
        "model": attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL),
        "weights_version": attrs.get(semconv.LLM_WEIGHTS_VERSION),
        "adapter": attrs.get(semconv.LLM_ADAPTER),
        "agent": attrs.get(semconv.GEN_AI_AGENT_NAME),
        "input_tokens": attrs.get(semconv.GEN_AI_INPUT_TOKENS),
        "output_tokens": attrs.get(semconv.GEN_AI_OUTPUT_TOKENS),
        "latency_ms": attrs.get(semconv.LLM_LATENCY_MS),
        "prompt": shaper.value(
            request.get("messages", request.get("prompt")) if isinstance(request, dict) else None
        ),
        "response": shaper.value(answer),
        "tool_calls": shaper.value(message.get("tool_calls") if isinstance(message, dict) else None),
        "finish_reasons": attrs.get(semconv.GEN_AI_FINISH_REASONS),
    }


async def full_span(store: LightningStore, rollout_id: str, span_id: str, shaper: Shaper) -> dict[str, Any]:
    """The whole span, masked but not cut: the "show all" link."""
    if await store.get_rollout(rollout_id) is None:
        raise NotFoundError(f"rollout {rollout_id!r} does not exist")
    for span in await store.query_spans(rollout_id):
        if span.span_id == span_id:
            return shaper.full().value(span.model_dump(mode="json"))
    raise NotFoundError(f"rollout {rollout_id!r} has no span {span_id!r}")
