"""``llm_call_span``: an LLM-call span as the proxy records one, built by hand for tests.

Algorithms and triplet code read a handful of attributes of these spans (request, response,
agent name, token ids, log-probs, weights version); tests of that code need spans with exactly
the attributes under test and nothing the proxy's real path would add, which is what this
builds. Attribute names are those of :mod:`agentlightning_core.types.semconv`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..types import Span, semconv


def llm_call_span(
    rollout_id: str = "ro-1",
    attempt_id: str = "at-1",
    *,
    prompt: str = "hi",
    answer: str = "hello",
    system_prompt: str | None = None,
    agent: str | None = None,
    model: str | None = "m",
    start: float = 1.0,
    end: float | None = None,
    prompt_ids: list[int] | None = None,
    completion_ids: list[int] | None = None,
    logprobs: list[float] | None = None,
    weights_version: int | None = None,
    parent_id: str | None = None,
    span_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Span:
    """One chat call: ``system_prompt`` (if any) and ``prompt`` in, ``answer`` out.

    Token ids, log-probs and the weights version are set only when given, as a proxy in front of
    an upstream that returns none would record; ``end`` defaults to ``start + 0.1``;
    ``attributes`` are added last (and win).
    """
    messages = [{"role": "user", "content": prompt}]
    if system_prompt is not None:
        messages.insert(0, {"role": "system", "content": system_prompt})
    request: dict[str, Any] = {"messages": messages}
    if model is not None:
        request["model"] = model
    attrs: dict[str, Any] = {
        semconv.SPAN_TYPE: "llm",
        semconv.LLM_REQUEST: request,
        semconv.LLM_RESPONSE: {"choices": [{"message": {"role": "assistant", "content": answer}}]},
    }
    optional = {
        semconv.AGENT_NAME: agent,
        semconv.LLM_PROMPT_TOKEN_IDS: prompt_ids,
        semconv.LLM_COMPLETION_TOKEN_IDS: completion_ids,
        semconv.LLM_COMPLETION_LOGPROBS: logprobs,
        semconv.LLM_WEIGHTS_VERSION: weights_version,
    }
    attrs.update({key: value for key, value in optional.items() if value is not None})
    attrs.update(attributes or {})
    extra = {"span_id": span_id} if span_id is not None else {}
    return Span(
        rollout_id=rollout_id,
        attempt_id=attempt_id,
        name=semconv.LLM_SPAN_NAME,
        start_time=start,
        end_time=start + 0.1 if end is None else end,
        parent_id=parent_id,
        attributes=attrs,
        **extra,
    )
