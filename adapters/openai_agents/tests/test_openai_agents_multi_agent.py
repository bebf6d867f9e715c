"""A real Agents SDK program (triage hands off to a math agent with a tool) through the LLM proxy."""

from __future__ import annotations

import json
from typing import Any

import agentlightning_openai_agents
from agentlightning_otel import OtelTracer
from agents import Agent, function_tool

from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import (
    ForwardingEngine,
    ScriptedUpstream,
    system_text,
    tool_call,
)
from agentlightning_core.types import semconv


@function_tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


# The agent's own code, unchanged: models are routed to the rollout's LLM by the adapter.
math_agent = Agent(
    name="math_agent", instructions="You are the math agent.", tools=[multiply], model="gpt-4o"
)
triage = Agent(name="triage", instructions="You are the triage agent.", handoffs=[math_agent], model="gpt-4o")


def respond(body: dict[str, Any]) -> dict[str, Any]:
    system, messages = system_text(body), body["messages"]
    tool_names = [t["function"]["name"] for t in body.get("tools") or []]
    if "triage" in system:
        assert "transfer_to_math_agent" in tool_names, tool_names
        return {"tool_calls": [tool_call("transfer_to_math_agent", {}, "call_handoff")]}
    if "math agent" in system:
        results = [m for m in messages if m["role"] == "tool" and m.get("tool_call_id") == "call_mul"]
        if results:
            return {"content": f"The answer is {results[-1]['content']}."}
        return {"tool_calls": [tool_call("multiply", {"a": 6, "b": 7}, "call_mul")]}
    raise AssertionError(f"unexpected prompt: {json.dumps(messages)[:500]}")


def reward(task: dict[str, Any], result: Any) -> float:
    return 1.0 if task["expected"] in str(result.final_output) else 0.0


async def test_agents_sdk_spans_names_tools_handoff_rewards_and_agent_match() -> None:
    agent = agentlightning_openai_agents.wrap(triage, reward=reward, to_input=lambda task: task["question"])
    upstream = ScriptedUpstream(respond)
    async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
        (result,) = await harness.run(
            agent, [{"question": "What is 6 times 7?", "expected": "42"}], tracer=OtelTracer()
        )

    assert result.rollout.status.value == "succeeded", result.rollout
    assert result.reward == 1.0
    agents = [s.attributes[semconv.AGENT_NAME] for s in result.spans if s.span_type == "agent"]
    assert sorted(agents) == ["math_agent", "triage"]
    (tool_span,) = result.spans_of_type("tool")
    assert tool_span.attributes[semconv.GEN_AI_TOOL_NAME] == "multiply"
    assert tool_span.attributes[semconv.TOOL_ARGUMENTS] == {"a": 6, "b": 7}
    assert tool_span.attributes[semconv.TOOL_RESULT] == "42"
    (handoff,) = [s for s in result.spans if s.name == "handoff"]
    assert handoff.attributes["agentlightning.handoff.to"] == "math_agent"
    llm_spans = sorted(result.spans_of_type("llm"), key=lambda s: s.start_time)
    assert len(llm_spans) == 3 == len(upstream.requests)
    assert all(r.body["model"] == "scripted" for r in upstream.requests)  # the rollout's model, not gpt-4o
    by_id = {s.span_id: s for s in result.spans}
    assert [by_id[s.parent_id].attributes[semconv.AGENT_NAME] for s in llm_spans] == [
        "triage",
        "math_agent",
        "math_agent",
    ]

    triplets = result.triplets()
    assert [t.agent_name for t in triplets] == ["triage", "math_agent", "math_agent"]
    assert all(t.reward == 1.0 and t.prompt_token_ids for t in triplets)
    kept = result.triplets(agent_match="math_.*")
    assert [t.agent_name for t in kept] == ["math_agent", "math_agent"]
    assert kept[-1].response["content"] == "The answer is 42."
