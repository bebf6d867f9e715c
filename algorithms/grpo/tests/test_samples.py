"""Which LLM calls GRPO trains on: every call of every rollout, or only the chosen agents' calls."""

from __future__ import annotations

from agentlightning_grpo import GRPO

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
