"""Which LLM calls GRPO trains on: every call of every rollout, or only the chosen agents' calls."""

from __future__ import annotations

import pytest
from agentlightning_grpo import GRPO
from pydantic import ValidationError

from agentlightning_core import Rollout, RolloutOutcome, Span
from agentlightning_core.testing.spans import llm_call_span
from agentlightning_core.types import RolloutStatus


def call(rollout_id: str, agent: str, start: float, prompt: list[int], answer: list[int]) -> Span:
    return llm_call_span(
        rollout_id,
        prompt="q",
        answer="a",
        agent=agent,
        start=start,
        end=start + 1,
        prompt_ids=prompt,
        completion_ids=answer,
    )


def outcome(i: int, reward: float) -> RolloutOutcome:
    rid = f"ro-{i}"
    spans = [
        call(rid, "write", 1.0, [1, 2], [10 + i]),
        call(rid, "check", 2.0, [1, 3], [20 + i, 21]),
        call(rid, "rewrite", 3.0, [1, 4], [30 + i, 31, 32]),
    ]
    return RolloutOutcome(Rollout(rollout_id=rid, status=RolloutStatus.SUCCEEDED), reward, spans)


def test_every_call_of_a_multi_agent_rollout_is_a_sample_with_its_rollouts_advantage() -> None:
    samples, summary = GRPO(group_size=2)._samples([outcome(0, 1.0), outcome(1, 0.0)], [0, 0])
    assert [s.response_ids for s in samples] == [[10], [20, 21], [30, 31, 32], [11], [21, 21], [31, 31, 32]]
    assert summary["train/calls_per_rollout"] == 3
    assert summary["completion_tokens"] == 12
    advantages = [s.advantage for s in samples]
    assert advantages[:3] == [advantages[0]] * 3 and advantages[0] > 0 > advantages[3]


def test_agent_match_keeps_only_the_chosen_agents_calls() -> None:
    algo = GRPO(group_size=2, agent_match=["write", "rewrite"])
    samples, summary = algo._samples([outcome(0, 1.0), outcome(1, 0.0)], [0, 0])
    assert [s.response_ids for s in samples] == [[10], [30, 31, 32], [11], [31, 31, 32]]
    assert summary["train/calls_per_rollout"] == 2
    by_regex = GRPO(group_size=2, agent_match="re.*")  # a regex, matched against the whole name
    regex = by_regex._samples([outcome(0, 1.0), outcome(1, 0.0)], [0, 0])[0]
    assert [s.response_ids for s in regex] == [[30, 31, 32], [31, 31, 32]]


def test_hints_go_to_the_first_rollouts_of_each_group_until_the_last_hinted_step() -> None:
    algo = GRPO(group_size=4, tasks_per_step=2, hinted_per_group=1, hint_until_step=3)
    assert algo._hinted(1, 2) == [True, False, False, False, True, False, False, False]
    assert algo._hinted(3, 2) == algo._hinted(1, 2)
    assert algo._hinted(4, 2) == [False] * 8
    assert GRPO(group_size=4)._hinted(1, 1) == [False] * 4  # off by default


def test_the_unhinted_rollouts_are_summarised_on_their_own() -> None:
    def one_call(i: int, reward: float) -> RolloutOutcome:
        rid = f"ro-{i}"
        spans = [call(rid, "a", 1.0, [1], [2])]
        return RolloutOutcome(Rollout(rollout_id=rid, status=RolloutStatus.SUCCEEDED), reward, spans)

    outcomes = [outcome(0, 1.0), one_call(1, 0.0), one_call(2, 1.0), one_call(3, 0.0)]
    algo = GRPO(group_size=4, hinted_per_group=1, hint_until_step=1)
    _, summary = algo._samples(outcomes, [0, 0, 0, 0], [True, False, False, False])
    assert summary["train/hinted_rollouts"] == 1
    assert summary["train/calls_per_rollout"] == 1.5  # (3 + 1 + 1 + 1) / 4
    assert summary["train/unhinted_calls_per_rollout"] == 1.0
    assert summary["train/hinted_reward_mean"] == 1.0
    assert summary["train/unhinted_reward_mean"] == 1 / 3


def test_hint_settings_that_cannot_teach_are_refused() -> None:
    with pytest.raises(ValidationError, match="less than group_size"):
        GRPO(group_size=4, hinted_per_group=4, hint_until_step=2)
    with pytest.raises(ValidationError, match="hint_until_step is 0"):
        GRPO(hinted_per_group=1)
