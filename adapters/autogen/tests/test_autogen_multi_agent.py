"""A real AutoGen team (calculator with a tool → reviewer) through the LLM proxy."""

from __future__ import annotations

from typing import Any

import agentlightning_autogen
from agentlightning_otel import OtelTracer
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_ext.models.openai import OpenAIChatCompletionClient

from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import (
    ForwardingEngine,
    ScriptedUpstream,
    system_text,
    tool_call,
)
from agentlightning_core.types import LLM, semconv

MODEL_INFO: Any = {
    "vision": False,
    "function_calling": True,
    "json_output": False,
    "structured_output": False,
    "family": "unknown",
}


async def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def build_team(llm: LLM) -> RoundRobinGroupChat:
    """The agent's own code; the only Agent Lightning touch is ``base_url=llm.endpoint``."""
    client = OpenAIChatCompletionClient(
        model=llm.model, base_url=llm.endpoint, api_key=llm.api_key_value, model_info=MODEL_INFO
    )
    calculator = AssistantAgent(
        "calculator", model_client=client, tools=[multiply], system_message="You are the calculator."
    )
    reviewer = AssistantAgent("reviewer", model_client=client, system_message="You are the reviewer.")
    done = TextMentionTermination("APPROVED") | MaxMessageTermination(6)
    return RoundRobinGroupChat([calculator, reviewer], termination_condition=done)


def respond(body: dict[str, Any]) -> dict[str, Any]:
    system = system_text(body)
    if "calculator" in system:
        return {"tool_calls": [tool_call("multiply", {"a": 6, "b": 7}, "call_mul")]}
    if "reviewer" in system:
        seen = " ".join(str(m.get("content")) for m in body["messages"])
        return {"content": "APPROVED: 42" if "42" in seen else "REJECTED"}
    raise AssertionError(f"unexpected prompt: {body['messages']}")


def reward(task: dict[str, Any], result: Any) -> float:
    return 1.0 if task["expected"] in str(result.messages[-1].content) else 0.0


async def test_autogen_spans_names_tools_rewards_and_agent_match() -> None:
    agent = agentlightning_autogen.wrap(build_team, reward=reward, to_task=lambda task: task["question"])
    upstream = ScriptedUpstream(respond)
    async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
        (result,) = await harness.run(
            agent, [{"question": "What is 6 times 7?", "expected": "42"}], tracer=OtelTracer()
        )

    assert result.rollout.status.value == "succeeded", result.rollout
    assert result.reward == 1.0
    invoked = {s.attributes[semconv.AGENT_NAME] for s in result.spans if s.span_type == "agent"}
    assert invoked == {"calculator", "reviewer"}
    (tool_span,) = result.spans_of_type("tool")
    assert tool_span.attributes[semconv.GEN_AI_TOOL_NAME] == "multiply"
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_mul"
    assert tool_span.attributes[semconv.TOOL_ARGUMENTS] == {"a": 6, "b": 7}
    assert tool_span.attributes[semconv.TOOL_RESULT] == "42"
    llm_spans = sorted(result.spans_of_type("llm"), key=lambda s: s.start_time)
    assert len(llm_spans) == 2 == len(upstream.requests)
    assert [s.attributes[semconv.AGENT_NAME] for s in llm_spans] == ["calculator", "reviewer"]
    root_trace = {s.trace_id for s in result.spans if s.name == "agentlightning.rollout"}
    assert {s.trace_id for s in llm_spans} == root_trace  # traceparent reached the proxy

    triplets = result.triplets()
    assert [t.agent_name for t in triplets] == ["calculator", "reviewer"]
    assert triplets[0].response["tool_calls"][0]["function"]["name"] == "multiply"
    assert all(t.reward == 1.0 and t.response_token_ids for t in triplets)
    kept = result.triplets(agent_match=["reviewer"])
    assert [t.agent_name for t in kept] == ["reviewer"]
    assert kept[0].response["content"] == "APPROVED: 42"
