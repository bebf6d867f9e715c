"""``TraceToTriplet``: from an attempt's spans to one (prompt, response, reward) per LLM call.

Agent attribution of an LLM call, first match wins: the call span's own ``gen_ai.agent.name``
(set by an adapter, or by the proxy from the ``X-AGL-Agent`` header); the nearest ancestor span
(``parent_id`` chain, e.g. through W3C ``traceparent`` propagation) that names an agent; the
innermost agent span whose time interval contains the call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from .reward import final_reward, rewards_from_spans
from .types import Span, Triplet, semconv

RewardMode = Literal["final", "per_call"]


class TraceToTriplet:
    """Turn spans into triplets.

    :param agent_match: keep only calls of these agents — a name, a regex (full match), or a list
        of either. ``None`` keeps every call (selective optimisation off).
    :param reward_mode: ``"final"`` gives the rollout's final reward to every call; ``"per_call"``
        gives each reward to the last LLM call that ended before it (calls with none get ``None``).
    :param require_tokens: drop calls without token ids (what RL trainers need).
    """

    def __init__(
        self,
        agent_match: str | re.Pattern[str] | Iterable[str | re.Pattern[str]] | None = None,
        reward_mode: RewardMode = "final",
        require_tokens: bool = False,
    ) -> None:
        if reward_mode not in ("final", "per_call"):
            raise ValueError(f"reward_mode must be 'final' or 'per_call', got {reward_mode!r}")
        self.reward_mode = reward_mode
        self.require_tokens = require_tokens
        if agent_match is None:
            self._patterns: list[re.Pattern[str]] | None = None
        elif isinstance(agent_match, (str, re.Pattern)):
            self._patterns = [re.compile(agent_match)]
        else:
            self._patterns = [re.compile(p) for p in agent_match]

    def matches(self, agent_name: str | None) -> bool:
        if self._patterns is None:
            return True
        if agent_name is None:
            return False
        return any(p.fullmatch(agent_name) for p in self._patterns)

    def transform(self, spans: Sequence[Span]) -> list[Triplet]:
        """Triplets of one attempt's spans, in call order."""
        by_id = {s.span_id: s for s in spans}
        agents = [s for s in spans if _agent_of(s) is not None and s.span_type != "llm"]
        calls = sorted((s for s in spans if s.span_type == "llm"), key=_order)
        rewards = self._rewards(spans, calls)
        triplets: list[Triplet] = []
        for call in calls:
            agent = _attribute(call, by_id, agents)
            if not self.matches(agent):
                continue
            triplet = _triplet(call, agent, rewards.get(call.span_id))
            if self.require_tokens and not triplet.has_tokens:
                continue
            triplets.append(triplet)
        return triplets

    def _rewards(self, spans: Sequence[Span], calls: list[Span]) -> dict[str, float | None]:
        if self.reward_mode == "final":
            value = final_reward(spans)
            return {c.span_id: value for c in calls}
        assigned: dict[str, float | None] = {c.span_id: None for c in calls}
        for reward in rewards_from_spans(spans):
            before = [c for c in calls if (c.end_time or c.start_time) <= reward.timestamp]
            if before:
                assigned[before[-1].span_id] = reward.value
        return assigned


def _order(span: Span) -> tuple[float, int]:
    return (span.start_time, span.sequence_id or 0)


def _agent_of(span: Span) -> str | None:
    value = span.attributes.get(semconv.AGENT_NAME)
    return str(value) if value else None


def _attribute(call: Span, by_id: dict[str, Span], agents: list[Span]) -> str | None:
    own = _agent_of(call)
    if own is not None:
        return own
    seen: set[str] = set()
    parent_id = call.parent_id
    while parent_id and parent_id in by_id and parent_id not in seen:
        seen.add(parent_id)
        parent = by_id[parent_id]
        name = _agent_of(parent)
        if name is not None:
            return name
        parent_id = parent.parent_id
    end = call.end_time or call.start_time
    containing = [
        a for a in agents if a.start_time <= call.start_time and (a.end_time is None or a.end_time >= end)
    ]
    if not containing:
        return None
    innermost = max(containing, key=lambda a: a.start_time)
    return _agent_of(innermost)


def _triplet(call: Span, agent: str | None, reward: float | None) -> Triplet:
    attrs = call.attributes
    request: dict[str, Any] = attrs.get(semconv.LLM_REQUEST) or {}
    response: dict[str, Any] = attrs.get(semconv.LLM_RESPONSE) or {}
    choices = response.get("choices") or [{}]
    first = choices[0] if choices else {}
    prompt = request.get("messages", request.get("prompt"))
    answer = first.get("message", first.get("text"))
    return Triplet(
        rollout_id=call.rollout_id,
        attempt_id=call.attempt_id,
        span_id=call.span_id,
        sequence_id=call.sequence_id,
        agent_name=agent,
        prompt=prompt,
        response=answer,
        prompt_token_ids=list(attrs.get(semconv.LLM_PROMPT_TOKEN_IDS) or []),
        response_token_ids=list(attrs.get(semconv.LLM_COMPLETION_TOKEN_IDS) or []),
        response_logprobs=attrs.get(semconv.LLM_COMPLETION_LOGPROBS),
        reward=reward,
        weights_version=attrs.get(semconv.LLM_WEIGHTS_VERSION),
        metadata={
            "model": attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL),
            **({"adapter": attrs[semconv.LLM_ADAPTER]} if attrs.get(semconv.LLM_ADAPTER) else {}),
        },
    )
