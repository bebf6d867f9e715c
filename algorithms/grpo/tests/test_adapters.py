"""One LoRA adapter per agent: the adapter map is checked, each call goes to its agent's adapter
with advantages of that adapter's own calls, and each adapter's gradient is its own."""

from __future__ import annotations

import pytest
from agentlightning_grpo import GRPO
from pydantic import ValidationError

from agentlightning_core import Reward, Rollout, RolloutOutcome, Span
from agentlightning_core.engine import LLMEngine
from agentlightning_core.testing.spans import llm_call_span
from agentlightning_core.types import RolloutStatus


def outcome(i: int, rewards: list[tuple[float, float]]) -> RolloutOutcome:
    """write (t=1), check (t=2), rewrite (t=3), write (t=4); rewards ``(timestamp, value)``."""
    rid = f"ro-{i}"
    agents = ["write", "check", "rewrite", "write"]
    spans: list[Span] = [
        llm_call_span(
            rid,
            prompt="q",
            answer="a",
            agent=a,
            start=float(t + 1),
            prompt_ids=[1, t],
            completion_ids=[10 * i + t],
        )
        for t, a in enumerate(agents)
    ]
    spans += [Reward(value=v, timestamp=ts).to_span(rid, "at-1") for ts, v in rewards]
    return RolloutOutcome(Rollout(rollout_id=rid, status=RolloutStatus.SUCCEEDED), rewards[-1][1], spans)


ADAPTERS = {"writer": "write", "checker": "check|rewrite"}


def test_each_call_goes_to_its_agents_adapter_with_that_adapters_own_per_position_advantages() -> None:
    # rollout 0 per call: write 1, check 0, rewrite 0, write 1 ; rollout 1: write 0, check 1, rewrite 0, write 0
    a = outcome(0, [(1.5, 1.0), (4.5, 1.0)])
    b = outcome(1, [(2.5, 1.0), (4.5, 0.0)])
    algo = GRPO(group_size=2, scale_rewards=False, credit="per_call", adapters=ADAPTERS)
    samples, _ = algo._samples([a, b], [0, 0])
    assert [s.adapter for s in samples] == ["writer", "checker", "checker", "writer"] * 2
    # writer's calls are its positions 0 and 1 (t = 1 and t = 4): [1, 1] vs [0, 0] -> +-0.5 each
    # checker's positions 0 and 1 (check, rewrite): [0, 0] vs [1, 0] -> -0.5/+0.5, then 0/0
    assert [s.advantage for s in samples] == [0.5, -0.5, 0.0, 0.5, -0.5, 0.5, 0.0, -0.5]
    final = GRPO(group_size=2, scale_rewards=False, adapters=ADAPTERS)._samples([a, b], [0, 0])[0]
    assert [s.advantage for s in final] == [0.5] * 4 + [-0.5] * 4


def test_agents_no_adapter_matches_are_not_trained() -> None:
    algo = GRPO(group_size=2, adapters={"writer": "write", "checker": "check"})
    samples, summary = algo._samples([outcome(0, [(4.5, 1.0)]), outcome(1, [(4.5, 0.0)])], [0, 0])
    assert [s.adapter for s in samples] == ["writer", "checker", "writer"] * 2
    assert summary["train/calls_per_rollout"] == 3


def test_an_adapter_matching_no_agent_of_the_first_step_names_the_agents_seen() -> None:
    algo = GRPO(group_size=2, adapters={"writer": "write", "judge": "judge"})
    with pytest.raises(ValueError, match=r"\['judge'\] match none.*\['check', 'rewrite', 'write'\]"):
        algo._samples([outcome(0, [(4.5, 1.0)]), outcome(1, [(4.5, 0.0)])], [0, 0])


def test_two_patterns_matching_one_agent_are_refused_at_start() -> None:
    with pytest.raises(
        ValidationError, match="agent 'write' is matched by adapter 'writer' and by \\['any'\\]"
    ):
        GRPO(adapters={"writer": "write", "any": "wr.*"})
    with pytest.raises(ValidationError, match="rewrite"):
        GRPO(adapters={"writer": "write|rewrite", "checker": ["check", "rewrite"]})
    with pytest.raises(ValidationError, match="not a regular expression"):
        GRPO(adapters={"writer": "(write"})
    with pytest.raises(ValidationError, match="drop agent_match"):
        GRPO(adapters=ADAPTERS, agent_match="write")
    ok = GRPO(adapters=ADAPTERS)
    assert ok.config.lora is not None and ok.config.lora.r == 16  # adapters imply LoRA's defaults


def test_an_agent_two_adapters_match_at_run_time_is_refused() -> None:
    # patterns that overlap only on a name neither spells out pass the start check
    algo = GRPO(group_size=2, adapters={"w": "w.*", "x": ".*e"})
    with pytest.raises(ValueError, match="agent 'write' is matched by adapters \\['w', 'x'\\]"):
        algo._samples([outcome(0, [(4.5, 1.0)]), outcome(1, [(4.5, 0.0)])], [0, 0])


def test_the_engine_contract_routes_agents_to_models() -> None:
    engine = LLMEngine()
    assert engine.model_for_agent("write") is None
    engine.route_agents([("write", "writer"), ("check|rewrite", "checker")])
    assert engine.model_for_agent("write") == "writer"
    assert engine.model_for_agent("rewrite") == "checker"
    assert engine.model_for_agent("rewriter") is None  # full match, as agent_match
    assert engine.model_for_agent(None) is None
