"""One span per LLM call: what the proxy records for an attributed request.

Attributes follow :mod:`agentlightning_core.types.semconv`; token ids and log-probs are taken
from the response as :mod:`agentlightning_core.engine` documents them (vLLM's
``prompt_token_ids`` / ``choices[i].token_ids``, OpenAI's ``logprobs``).
"""

from __future__ import annotations

import re
import time
from typing import Any

from ..types import Span, SpanStatus, SpanStatusCode, new_span_id, new_trace_id, semconv

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")

OPERATIONS = {"chat": "gen_ai.chat", "text_completion": "gen_ai.text_completion"}


def parse_traceparent(header: str | None) -> tuple[str, str | None]:
    """(trace_id, parent span id) from a W3C ``traceparent``; a fresh trace when absent/invalid."""
    if header:
        match = _TRACEPARENT.match(header.strip().lower())
        if match and set(match.group(1)) != {"0"} and set(match.group(2)) != {"0"}:
            return match.group(1), match.group(2)
    return new_trace_id(), None


def completion_token_ids(choice: dict[str, Any]) -> list[int] | None:
    ids = choice.get("token_ids")
    return list(ids) if isinstance(ids, list) else None


def completion_logprobs(choice: dict[str, Any]) -> list[float] | None:
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if isinstance(content, list):  # chat format
        return [float(item["logprob"]) for item in content if isinstance(item, dict) and "logprob" in item]
    values = logprobs.get("token_logprobs")  # completions format
    if isinstance(values, list):
        return [float(v) for v in values if v is not None]
    return None


def llm_span(
    *,
    rollout_id: str,
    attempt_id: str,
    operation: str,
    system: str,
    request: dict[str, Any],
    response: dict[str, Any] | None,
    start_time: float,
    end_time: float | None = None,
    agent_name: str | None = None,
    traceparent: str | None = None,
    weights_version: int | None = None,
    error: str | None = None,
) -> Span:
    end_time = time.time() if end_time is None else end_time
    trace_id, parent_id = parse_traceparent(traceparent)
    attrs: dict[str, Any] = {
        semconv.SPAN_TYPE: "llm",
        semconv.GEN_AI_OPERATION: operation,
        semconv.GEN_AI_SYSTEM: system,
        semconv.LLM_REQUEST: request,
        semconv.LLM_LATENCY_MS: round((end_time - start_time) * 1000.0, 3),
    }
    if request.get("model") is not None:
        attrs[semconv.GEN_AI_REQUEST_MODEL] = request["model"]
    if agent_name:
        attrs[semconv.AGENT_NAME] = agent_name
    if response is not None:
        attrs[semconv.LLM_RESPONSE] = response
        _response_attributes(attrs, response)
    if semconv.LLM_WEIGHTS_VERSION not in attrs and weights_version is not None:
        attrs[semconv.LLM_WEIGHTS_VERSION] = weights_version
    return Span(
        rollout_id=rollout_id,
        attempt_id=attempt_id,
        trace_id=trace_id,
        span_id=new_span_id(),
        parent_id=parent_id,
        name=OPERATIONS.get(operation, semconv.LLM_SPAN_NAME),
        kind="client",
        start_time=start_time,
        end_time=end_time,
        attributes=attrs,
        status=SpanStatus(code=SpanStatusCode.ERROR, description=error)
        if error
        else SpanStatus(code=SpanStatusCode.OK),
    )


def _response_attributes(attrs: dict[str, Any], response: dict[str, Any]) -> None:
    if response.get("model") is not None:
        attrs[semconv.GEN_AI_RESPONSE_MODEL] = response["model"]
    if response.get("id") is not None:
        attrs[semconv.GEN_AI_RESPONSE_ID] = response["id"]
    choices = [c for c in response.get("choices") or [] if isinstance(c, dict)]
    attrs[semconv.GEN_AI_FINISH_REASONS] = [c.get("finish_reason") for c in choices]
    usage = response.get("usage")
    if isinstance(usage, dict):
        if usage.get("prompt_tokens") is not None:
            attrs[semconv.GEN_AI_INPUT_TOKENS] = usage["prompt_tokens"]
        if usage.get("completion_tokens") is not None:
            attrs[semconv.GEN_AI_OUTPUT_TOKENS] = usage["completion_tokens"]
    prompt_ids = response.get("prompt_token_ids")
    if prompt_ids is None and choices:
        prompt_ids = choices[0].get("prompt_token_ids")  # some vLLM versions put it per choice
    if isinstance(prompt_ids, list):
        attrs[semconv.LLM_PROMPT_TOKEN_IDS] = prompt_ids
    if choices:
        ids = completion_token_ids(choices[0])
        if ids is not None:
            attrs[semconv.LLM_COMPLETION_TOKEN_IDS] = ids
        logprobs = completion_logprobs(choices[0])
        if logprobs is not None:
            attrs[semconv.LLM_COMPLETION_LOGPROBS] = logprobs
    if response.get("weights_version") is not None:
        attrs[semconv.LLM_WEIGHTS_VERSION] = response["weights_version"]
    if response.get("adapter") is not None:
        attrs[semconv.LLM_ADAPTER] = response["adapter"]
