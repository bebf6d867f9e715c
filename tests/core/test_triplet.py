"""``TraceToTriplet``: one triplet per LLM call, kept or dropped by agent, with rewards assigned."""

from __future__ import annotations

from typing import Any

import pytest

from agentlightning_core import Reward, Span, TraceToTriplet
from agentlightning_core.testing.spans import llm_call_span
from agentlightning_core.types import semconv

RID, AID = "ro-1", "at-1"


def llm_call(
    start: float,
    end: float,
    *,
    prompt: str = "hi",
    answer: str = "hello",
    agent: str | None = None,
    parent: str | None = None,
    tokens: bool = True,
    span_id: str | None = None,
) -> Span:
    token_fields: dict[str, Any] = (
        {"prompt_ids": [1, 2, 3], "completion_ids": [4, 5], "logprobs": [-0.1, -0.2], "weights_version": 3}
        if tokens
        else {}
    )
    return llm_call_span(
        RID,
        AID,
        prompt=prompt,
        answer=answer,
        agent=agent,
        start=start,
        end=end,
        parent_id=parent,
        span_id=span_id,
        attributes={semconv.GEN_AI_RESPONSE_MODEL: "m-1"},
        **token_fields,
    )


def agent_span(
    name: str, start: float, end: float | None, *, parent: str | None = None, span_id: str | None = None
) -> Span:
    extra = {"span_id": span_id} if span_id else {}
    return Span(
        rollout_id=RID,
        attempt_id=AID,
        name=f"agent {name}",
        start_time=start,
        end_time=end,
        parent_id=parent,
        attributes={semconv.SPAN_TYPE: "agent", semconv.AGENT_NAME: name},
        **extra,
    )


def tool_span(start: float, end: float, *, parent: str, span_id: str) -> Span:
    return Span(
        rollout_id=RID,
        attempt_id=AID,
        name="tool",
        start_time=start,
        end_time=end,
        parent_id=parent,
        span_id=span_id,
        attributes={semconv.SPAN_TYPE: "tool"},
    )


def reward(value: float, at: float, name: str = "reward", seq: int = 100) -> Span:
    span = Reward(value=value, name=name, timestamp=at).to_span(RID, AID)
    return span.model_copy(update={"sequence_id": seq})


def test_a_call_becomes_a_triplet_with_messages_tokens_and_the_final_reward() -> None:
    spans = [llm_call(1, 2, prompt="2+2?", answer="4"), reward(1.0, 3)]
    (t,) = TraceToTriplet().transform(spans)
    assert t.prompt == [{"role": "user", "content": "2+2?"}]
    assert t.response == {"role": "assistant", "content": "4"}
    assert (t.prompt_token_ids, t.response_token_ids, t.response_logprobs) == (
        [1, 2, 3],
        [4, 5],
        [-0.1, -0.2],
    )
    assert t.weights_version == 3 and t.metadata["model"] == "m-1"
    assert t.reward == 1.0 and t.has_tokens
    assert (t.rollout_id, t.attempt_id) == (RID, AID)


def test_text_completions_keep_prompt_and_text() -> None:
    call = llm_call(1, 2)
    call.attributes[semconv.LLM_REQUEST] = {"prompt": "once upon"}
    call.attributes[semconv.LLM_RESPONSE] = {"choices": [{"text": " a time"}]}
    (t,) = TraceToTriplet().transform([call])
    assert (t.prompt, t.response, t.reward) == ("once upon", " a time", None)


def test_attribution_by_the_calls_own_agent_name() -> None:
    (t,) = TraceToTriplet().transform([llm_call(1, 2, agent="writer")])
    assert t.agent_name == "writer"


def test_attribution_through_the_parent_chain() -> None:
    spans = [
        agent_span("planner", 0, 10, span_id="a1"),
        tool_span(1, 5, parent="a1", span_id="t1"),
        llm_call(2, 3, parent="t1"),
        agent_span("outer", 0, 20, span_id="a0"),  # contains the call in time, but is not its ancestor
    ]
    (t,) = TraceToTriplet().transform(spans)
    assert t.agent_name == "planner"


def test_attribution_by_time_containment_picks_the_innermost_agent() -> None:
    spans = [
        agent_span("outer", 0, 20),
        agent_span("inner", 5, 10),
        llm_call(6, 7),  # inside both: inner wins
        llm_call(12, 13),  # only inside outer
        llm_call(30, 31),  # inside none
        agent_span("open", 25, None),  # still running: contains everything after 25
    ]
    names = [t.agent_name for t in TraceToTriplet().transform(spans)]
    assert names == ["inner", "outer", "open"]


def test_agent_match_keeps_only_the_chosen_agents() -> None:
    spans = [
        llm_call(1, 2, agent="sql_writer", answer="a"),
        llm_call(3, 4, agent="sql_checker", answer="b"),
        llm_call(5, 6, agent="rewriter", answer="c"),
        llm_call(7, 8, answer="unattributed"),
    ]

    def kept(match: Any) -> list[str | None]:
        return [t.agent_name for t in TraceToTriplet(agent_match=match).transform(spans)]

    assert kept(None) == ["sql_writer", "sql_checker", "rewriter", None]
    assert kept("sql_writer") == ["sql_writer"]
    assert kept("sql_.*") == ["sql_writer", "sql_checker"]
    assert kept("sql") == []  # a full match, not a search
    assert kept(["rewriter", r"sql_w\w+"]) == ["sql_writer", "rewriter"]
    import re

    assert kept(re.compile("re.*")) == ["rewriter"]


def test_final_mode_gives_every_call_the_final_reward_preferring_the_one_named_reward() -> None:
    spans = [
        llm_call(1, 2),
        reward(0.3, 2.5, name="reward", seq=10),
        llm_call(3, 4),
        reward(0.9, 5, name="format", seq=11),
    ]
    assert [t.reward for t in TraceToTriplet(reward_mode="final").transform(spans)] == [0.3, 0.3]
    without_named = [s for s in spans if s.attributes.get(semconv.REWARD_NAME) != "reward"]
    assert [t.reward for t in TraceToTriplet().transform(without_named)] == [0.9, 0.9]


def test_per_call_mode_gives_each_reward_to_the_last_call_that_ended_before_it() -> None:
    spans = [
        llm_call(1, 2, answer="first"),
        llm_call(3, 4, answer="second"),
        reward(0.5, 4.5, seq=10),
        llm_call(5, 6, answer="third"),
        reward(1.0, 7, seq=11),
        llm_call(8, 9, answer="no reward after me"),
    ]
    got = [(t.response["content"], t.reward) for t in TraceToTriplet(reward_mode="per_call").transform(spans)]
    assert got == [("first", None), ("second", 0.5), ("third", 1.0), ("no reward after me", None)]


def test_require_tokens_drops_calls_without_token_ids() -> None:
    spans = [llm_call(1, 2, tokens=False), llm_call(3, 4, tokens=True)]
    assert len(TraceToTriplet().transform(spans)) == 2
    (t,) = TraceToTriplet(require_tokens=True).transform(spans)
    assert t.response_token_ids == [4, 5]


def test_calls_come_out_in_start_order_whatever_order_the_spans_arrived_in() -> None:
    spans = [llm_call(5, 6, answer="late"), llm_call(1, 2, answer="early")]
    assert [t.response["content"] for t in TraceToTriplet().transform(spans)] == ["early", "late"]


def test_an_unknown_reward_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="reward_mode must be"):
        TraceToTriplet(reward_mode="mean")  # type: ignore[arg-type]
