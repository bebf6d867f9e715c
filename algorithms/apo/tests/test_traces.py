"""What the critic is shown of a rollout, from its spans."""

from __future__ import annotations

from agentlightning_apo.traces import failures_of

from agentlightning_core.algorithm import RolloutOutcome
from agentlightning_core.testing.spans import llm_call_span
from agentlightning_core.triplet import TraceToTriplet
from agentlightning_core.types import Rollout, RolloutStatus, Span


def call(rollout_id: str, agent: str, prompt: str, answer: str, t: float) -> Span:
    return llm_call_span(
        rollout_id, prompt=prompt, answer=answer, system_prompt="sys", agent=agent, model=None, start=t
    )


def outcome(reward: float | None, status: RolloutStatus, spans: list[Span], task: object) -> RolloutOutcome:
    rollout = Rollout(input=task, status=status, num_attempts=1)
    spans = [s.model_copy(update={"rollout_id": rollout.rollout_id}) for s in spans]
    return RolloutOutcome(rollout=rollout, reward=reward, spans=spans)


def test_failures_are_worst_first_and_show_only_the_matched_agents_calls() -> None:
    two_agents = [
        call("x", "planner", "plan it", "step 1", 1.0),
        call("x", "writer", "write it", "draft", 2.0),
    ]
    outcomes = [
        outcome(0.5, RolloutStatus.SUCCEEDED, two_agents, {"q": "half"}),
        outcome(1.0, RolloutStatus.SUCCEEDED, two_agents, {"q": "perfect"}),
        outcome(None, RolloutStatus.FAILED, [], {"q": "crashed"}),
        outcome(0.0, RolloutStatus.SUCCEEDED, two_agents, {"q": "zero"}),
    ]
    errors = {outcomes[2].rollout.rollout_id: "ValueError: boom"}
    failures = failures_of(
        outcomes, threshold=1.0, transform=TraceToTriplet(agent_match="writer"), errors=errors
    )
    # a failed rollout counts as 0; ties keep the minibatch order; the perfect one is no failure
    assert [f.task for f in failures] == [{"q": "crashed"}, {"q": "zero"}, {"q": "half"}]
    crashed, zero, half = (f.render(2000) for f in failures)
    assert "Reward: none (the rollout failed)" in crashed and "Error: ValueError: boom" in crashed
    assert "(no LLM call was recorded for this rollout)" in crashed
    assert "[user] write it" in zero and "[assistant] draft" in zero and "[system] sys" in zero
    assert "plan it" not in zero  # selective: only the writer's calls
    assert 'Task: {"q": "half"}' in half and "Reward: 0.5" in half


def test_long_traces_are_clipped_to_the_budget() -> None:
    long = [call("x", "a", "p" * 5000, "r" * 5000, 1.0)]
    (failure,) = failures_of(
        [outcome(0.0, RolloutStatus.SUCCEEDED, long, "t")], threshold=1.0, transform=TraceToTriplet()
    )
    text = failure.render(1500)
    assert len(text) < 1700 and text.count("…[truncated]") == 2
