"""A real two-agent LangGraph program (researcher with a tool → writer) through the LLM proxy."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import agentlightning_langgraph
from agentlightning_otel import OtelTracer
from langchain_core.messages import AnyMessage, SystemMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode

from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import (
    ForwardingEngine,
    ScriptedUpstream,
    system_text,
    tool_call,
)
from agentlightning_core.types import LLM, semconv


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    drafts: Annotated[list[str], operator.add]


def build_graph(llm: LLM) -> Any:
    """The agent's own code; the only Agent Lightning touch is ``base_url=llm.endpoint``."""
    model = ChatOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, model=llm.model, temperature=0)

    def researcher(state: State) -> dict[str, Any]:
        prompt = [SystemMessage("You are the researcher. Use tools."), *state["messages"]]
        return {"messages": [model.bind_tools([multiply]).invoke(prompt)]}

    async def writer(state: State) -> dict[str, Any]:
        answer = await model.ainvoke([SystemMessage("You are the writer."), *state["messages"]])
        return {"messages": [answer], "drafts": [str(answer.content)]}

    def route(state: State) -> str:
        return "tools" if state["messages"][-1].tool_calls else "writer"

    graph = StateGraph(State)
    graph.add_node("researcher", researcher)
    graph.add_node("tools", ToolNode([multiply]))
    graph.add_node(writer)
    graph.add_edge(START, "researcher")
    graph.add_conditional_edges("researcher", route, ["tools", "writer"])
    graph.add_edge("tools", "researcher")
    graph.add_edge("writer", END)
    return graph.compile()


def respond(body: dict[str, Any]) -> dict[str, Any]:
    system, last = system_text(body), body["messages"][-1]
    if "researcher" in system:
        if last["role"] == "tool":
            return {"content": f"research says {last['content']}"}
        return {"tool_calls": [tool_call("multiply", {"a": 6, "b": 7}, "call_mul")]}
    if "writer" in system:
        return {"content": "The answer is 42."}
    raise AssertionError(f"unexpected prompt: {body['messages']}")


def reward(task: dict[str, Any], state: dict[str, Any]) -> float:
    return 1.0 if task["expected"] in state["drafts"][-1] else 0.0


async def test_langgraph_spans_names_tools_rewards_and_agent_match() -> None:
    agent = agentlightning_langgraph.wrap(
        build_graph,
        reward=reward,
        to_input=lambda task: {"messages": [("user", task["question"])], "drafts": []},
    )
    upstream = ScriptedUpstream(respond)
    async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
        (result,) = await harness.run(
            agent, [{"question": "What is 6 times 7?", "expected": "42"}], tracer=OtelTracer()
        )

    assert result.rollout.status.value == "succeeded", result.rollout
    assert result.reward == 1.0
    agents = [s for s in result.spans if s.span_type == "agent"]
    assert sorted(s.attributes[semconv.AGENT_NAME] for s in agents) == ["researcher", "researcher", "writer"]
    (tool_span,) = result.spans_of_type("tool")
    assert tool_span.attributes[semconv.GEN_AI_TOOL_NAME] == "multiply"
    assert tool_span.attributes[semconv.TOOL_ARGUMENTS] == {"a": 6, "b": 7}
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_mul"
    assert "42" in str(tool_span.attributes[semconv.TOOL_RESULT])
    llm_spans = sorted(result.spans_of_type("llm"), key=lambda s: s.start_time)
    assert len(llm_spans) == 3 == len(upstream.requests)
    by_id = {s.span_id: s for s in result.spans}
    # each proxy LLM span is a child (via traceparent) of the node span that made the call
    assert [by_id[s.parent_id].attributes[semconv.AGENT_NAME] for s in llm_spans] == [
        "researcher",
        "researcher",
        "writer",
    ]
    # the tool's answer reached the second researcher call
    assert llm_spans[1].attributes[semconv.LLM_REQUEST]["messages"][-1]["content"] == "42"

    triplets = result.triplets()
    assert [t.agent_name for t in triplets] == ["researcher", "researcher", "writer"]
    assert all(t.reward == 1.0 and t.prompt_token_ids and t.response_token_ids for t in triplets)
    only_writer = result.triplets(agent_match="writer")
    assert [t.agent_name for t in only_writer] == ["writer"]
    assert only_writer[0].response["content"] == "The answer is 42."
    assert result.triplets(agent_match=r"re.*") == triplets[:2]


async def test_a_wrong_answer_gets_reward_zero() -> None:
    agent = agentlightning_langgraph.wrap(
        build_graph,
        reward=reward,
        to_input=lambda task: {"messages": [("user", task["question"])], "drafts": []},
    )
    async with ScriptedUpstream(respond).serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
        (result,) = await harness.run(agent, [{"question": "6*7?", "expected": "43"}], tracer=OtelTracer())
    assert result.reward == 0.0
    assert all(t.reward == 0.0 for t in result.triplets())
