"""A real two-agent CrewAI crew (solver with a tool → checker) through the LLM proxy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("crewai", reason="runs in .venv-crewai (make test-crewai)")

import agentlightning_crewai
from agentlightning_crewai import crewai_llm
from agentlightning_otel import OtelTracer
from crewai import Agent, Crew, Process, Task
from crewai.tools import tool

from agentlightning_core.testing.network import refuse_remote_connections
from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import ForwardingEngine, ScriptedUpstream, tool_call
from agentlightning_core.types import LLM, semconv


@pytest.fixture
def no_network() -> Iterator[list[Any]]:
    with refuse_remote_connections() as attempts:
        yield attempts


@tool("multiply")
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def build_crew(llm: LLM) -> Crew:
    """The crew's own code; the Agent Lightning touch is the LLM (``crewai_llm(llm)``)."""
    model = crewai_llm(llm)
    solver = Agent(
        role="solver",
        goal="Compute the answer",
        backstory="A careful calculator.",
        llm=model,
        tools=[multiply],
    )
    checker = Agent(role="checker", goal="Check the answer", backstory="A strict reviewer.", llm=model)
    solve = Task(description="{question}", expected_output="the number", agent=solver)
    check = Task(
        description="Check the solver's answer to: {question}",
        expected_output="APPROVED or REJECTED",
        agent=checker,
    )
    return Crew(agents=[solver, checker], tasks=[solve, check], process=Process.sequential)


def respond(body: dict[str, Any]) -> dict[str, Any]:
    system = " ".join(str(m.get("content")) for m in body["messages"] if m["role"] == "system")
    if "solver" in system:
        if not any(m["role"] == "tool" for m in body["messages"]):
            return {"tool_calls": [tool_call("multiply", {"a": 6, "b": 7}, "call_mul")]}
        return {"content": "Thought: I now know the final answer\nFinal Answer: 42"}
    if "checker" in system:
        seen = json.dumps(body["messages"])
        verdict = "APPROVED: 42" if "42" in seen else "REJECTED"
        return {"content": f"Thought: I now know the final answer\nFinal Answer: {verdict}"}
    raise AssertionError(f"unexpected prompt: {body['messages']}")


def reward(task: dict[str, Any], output: Any) -> float:
    return 1.0 if "APPROVED" in str(output.raw) else 0.0


@pytest.mark.timeout(180)
async def test_crew_calls_are_attributed_to_roles_with_tool_spans(no_network: list[Any]) -> None:
    agent = agentlightning_crewai.wrap(build_crew, reward=reward)
    upstream = ScriptedUpstream(respond)
    try:
        async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
            (result,) = await harness.run(agent, [{"question": "What is 6 times 7?"}], tracer=OtelTracer())
    finally:
        agentlightning_crewai.uninstrument()

    assert result.rollout.status.value == "succeeded", result.rollout
    assert result.reward == 1.0
    invoked = [s.attributes[semconv.AGENT_NAME] for s in result.spans if s.span_type == "agent"]
    assert sorted(invoked) == ["checker", "solver"]
    llm_calls = result.spans_of_type("llm")
    assert len(llm_calls) == 3  # solver: tool call, final answer; checker: verdict
    (tool_span,) = result.spans_of_type("tool")
    assert tool_span.attributes[semconv.GEN_AI_TOOL_NAME] == "multiply"
    assert tool_span.attributes[semconv.TOOL_ARGUMENTS] == {"a": 6, "b": 7}
    assert tool_span.attributes[semconv.TOOL_RESULT] == "42"
    assert tool_span.attributes[semconv.AGENT_NAME] == "solver"
    # selective optimisation: only the checker's call, or only the solver's two
    assert len(result.triplets(agent_match="checker")) == 1
    assert len(result.triplets(agent_match="solver")) == 2
    assert no_network == []


def test_a_task_that_is_not_a_dict_needs_to_inputs() -> None:
    agent = agentlightning_crewai.wrap(build_crew, reward=reward)
    with pytest.raises(TypeError, match="to_inputs"):
        agent._inputs("What is 6 times 7?")
    agentlightning_crewai.uninstrument()
