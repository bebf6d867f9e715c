"""Reading rewards back out of spans."""

from __future__ import annotations

from collections.abc import Sequence

from .types import Reward, Span


def rewards_from_spans(spans: Sequence[Span]) -> list[Reward]:
    """Every reward span, in sequence order."""
    ordered = sorted(spans, key=lambda s: (s.sequence_id is None, s.sequence_id or 0, s.start_time))
    return [Reward.from_span(s) for s in ordered if s.span_type == "reward"]


def final_reward(spans: Sequence[Span]) -> float | None:
    """The rollout's reward: the last reward named ``reward``, else the last reward of any name."""
    rewards = rewards_from_spans(spans)
    if not rewards:
        return None
    named = [r for r in rewards if r.name == "reward"]
    return (named or rewards)[-1].value
