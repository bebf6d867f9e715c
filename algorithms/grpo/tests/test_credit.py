"""Credit per step: exact advantages on hand-built traces for ``credit="final"``, ``"per_call"``
and ``"discounted"``, with the per-position group normalisation the README states."""

from __future__ import annotations

import math

import pytest
from agentlightning_grpo import GRPO
from agentlightning_grpo.losses import position_advantages, returns_to_go
from pydantic import ValidationError

from agentlightning_core import Reward, Rollout, RolloutOutcome, Span
from agentlightning_core.testing.spans import llm_call_span
from agentlightning_core.types import RolloutStatus


def trace(i: int, calls: int, rewards: list[tuple[float, float]]) -> RolloutOutcome:
    """Rollout ``ro-i``: LLM calls starting at t = 1, 2, ... (each 0.1 s long) and rewards
    ``(timestamp, value)``; the last reward is the rollout's final one."""
    rid = f"ro-{i}"
    spans: list[Span] = [
        llm_call_span(
            rid, prompt="q", answer="a", start=float(t + 1), prompt_ids=[1, t], completion_ids=[100 * i + t]
        )
        for t in range(calls)
    ]
    spans += [Reward(value=v, timestamp=ts).to_span(rid, "at-1") for ts, v in rewards]
    final = rewards[-1][1] if rewards else None
    return RolloutOutcome(Rollout(rollout_id=rid, status=RolloutStatus.SUCCEEDED), final, spans)


# rollout 0: calls at 1, 2, 3; rewards 0.5 after call 0 and 1.0 after call 2 -> per call [0.5, 0, 1]
# rollout 1: calls at 1, 2, 3; rewards 1.0 after call 1 and 0.0 after call 2 -> per call [0, 1, 0]
A = trace(0, 3, [(1.5, 0.5), (3.5, 1.0)])
B = trace(1, 3, [(2.5, 1.0), (3.5, 0.0)])


def advantages(outcomes: list[RolloutOutcome], groups: list[int], **options: object) -> list[list[float]]:
    algo = GRPO(group_size=2, scale_rewards=False, **options)  # type: ignore[arg-type]
    samples, _ = algo._samples(outcomes, groups)
    out: list[list[float]] = []
    i = 0
    for o in outcomes:
        n = sum(1 for s in o.spans if s.span_type == "llm")
        out.append([samples[i + k].advantage for k in range(n)])
        i += n
    return out


def test_final_credit_gives_every_call_its_rollouts_group_relative_reward() -> None:
    assert advantages([A, B], [0, 0]) == [[0.5, 0.5, 0.5], [-0.5, -0.5, -0.5]]


def test_per_call_credit_gives_each_reward_to_the_call_before_it_normalised_per_position() -> None:
    # position 0: [0.5, 0] mean 0.25; position 1: [0, 1] mean 0.5; position 2: [1, 0] mean 0.5
    assert advantages([A, B], [0, 0], credit="per_call") == [[0.25, -0.5, 0.5], [-0.25, 0.5, -0.5]]


def test_discounted_credit_is_return_to_go_normalised_per_position() -> None:
    # gamma 0.5: rollout 0 returns [0.5 + 0.5*0.5, 0 + 0.5*1, 1] = [0.75, 0.5, 1.0];
    # rollout 1 returns [0 + 0.5*1, 1 + 0.5*0, 0] = [0.5, 1.0, 0.0]
    got = advantages([A, B], [0, 0], credit="discounted", gamma=0.5)
    assert got == [[0.125, -0.25, 0.5], [-0.125, 0.25, -0.5]]
    # gamma 1: every call gets the sum of the rewards from it on: [1.5, 1, 1] and [1, 1, 0]
    assert advantages([A, B], [0, 0], credit="discounted") == [[0.25, 0.0, 0.5], [-0.25, 0.0, -0.5]]


def test_scaled_advantages_divide_by_the_positions_sample_std() -> None:
    algo = GRPO(group_size=2, credit="per_call")
    samples, _ = algo._samples([A, B], [0, 0])
    expected = 0.25 / (math.sqrt(0.125) + 1e-6)  # [0.5, 0]: mean 0.25, sample std sqrt(0.125)
    assert samples[0].advantage == pytest.approx(expected, abs=1e-12)
    assert samples[3].advantage == pytest.approx(-expected, abs=1e-12)


def test_a_position_only_one_rollout_reaches_is_compared_with_all_the_groups_calls() -> None:
    short = trace(2, 1, [(1.5, 1.0)])  # one call, reward 1 -> [1]
    long = trace(3, 3, [(3.5, 1.0)])  # three calls, reward after the last -> [0, 0, 1]
    # position 0: [1, 0] mean 0.5; positions 1 and 2: only `long` -> all calls [1, 0, 0, 1] mean 0.5
    assert advantages([short, long], [0, 0], credit="per_call") == [[0.5], [-0.5, -0.5, 0.5]]


def test_groups_are_normalised_separately() -> None:
    got = advantages(
        [A, B, trace(4, 1, [(1.5, 2.0)]), trace(5, 1, [(1.5, 4.0)])], [0, 0, 1, 1], credit="per_call"
    )
    assert got == [[0.25, -0.5, 0.5], [-0.25, 0.5, -0.5], [-1.0], [1.0]]


def test_returns_to_go_and_equal_returns() -> None:
    assert returns_to_go([1.0, 0.0, 2.0], 0.5) == [1.5, 1.0, 2.0]
    assert returns_to_go([], 0.9) == []
    assert position_advantages([[1.0, 1.0], [1.0, 1.0]], [0, 0]) == [[0.0, 0.0], [0.0, 0.0]]


def test_gamma_without_discounted_credit_is_refused() -> None:
    with pytest.raises(ValidationError, match="credit='discounted'"):
        GRPO(gamma=0.9)
    with pytest.raises(ValidationError, match="credit"):
        GRPO(credit="per_token")
