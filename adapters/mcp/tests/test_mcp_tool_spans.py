"""A plain OpenAI-client agent using a real stdio MCP server, run by the runner through the proxy.

The model is scripted (it asks for the tools, then answers); the MCP server, the proxy, the
runner, the store and the ``otel`` tracer are the real ones.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import agentlightning_mcp
import pytest
from agentlightning_otel import OtelTracer
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from openai import AsyncOpenAI

from agentlightning_core.adapter import get_adapter
from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import ForwardingEngine, ScriptedUpstream, tool_call
from agentlightning_core.types import LLM, semconv
from agentlightning_core.types.span import SpanStatusCode

SERVER = Path(__file__).with_name("calc_server.py")


@asynccontextmanager
async def calculator() -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def solver(task: dict[str, Any], llm: LLM) -> float:
    """The agent's own code: the OpenAI client, tools from the MCP server, one tool round."""
    client = AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value or "none")
    async with calculator() as session:
        tools = await agentlightning_mcp.openai_tools(session)
        known = {t["function"]["name"] for t in tools}
        messages: list[Any] = [{"role": "user", "content": task["question"]}]
        for _ in range(3):
            reply = await client.chat.completions.create(model=llm.model, messages=messages, tools=tools)
            message = reply.choices[0].message
            if not message.tool_calls:
                return 1.0 if task["expected"] in (message.content or "") else 0.0
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                text = await agentlightning_mcp.call_openai_tool(session, call, known=known)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": text})
    return 0.0


def respond(body: dict[str, Any]) -> dict[str, Any]:
    results = [m for m in body["messages"] if m["role"] == "tool"]
    if not results:
        assert {t["function"]["name"] for t in body["tools"]} == {"multiply", "divide"}
        return {
            "tool_calls": [
                tool_call("multiply", {"a": 6, "b": 7}, "call_mul"),
                tool_call("divide", {"a": 1, "b": 0}, "call_div"),
                tool_call("sqrt", {"x": 4}, "call_unknown"),
                {
                    "id": "call_bad",
                    "type": "function",
                    "function": {"name": "multiply", "arguments": "{6, 7"},
                },
            ]
        }
    by_id = {m["tool_call_id"]: m["content"] for m in results}
    assert by_id["call_mul"] == "42"
    # mcp 1.x passes the exception's message on ("... divide: division by zero"), 2.x hides it
    assert by_id["call_div"].startswith("error") and "divide" in by_id["call_div"]
    assert (
        by_id["call_unknown"].startswith("error: unknown tool 'sqrt'") and "multiply" in by_id["call_unknown"]
    )
    assert by_id["call_bad"].startswith("error: the arguments of 'multiply' are not a JSON object")
    return {"content": "The answer is 42."}


@pytest.mark.timeout(120)
async def test_each_mcp_tool_call_is_one_span_with_arguments_and_result() -> None:
    agent = get_adapter("mcp").wrap(solver)
    upstream = ScriptedUpstream(respond)
    try:
        async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
            (result,) = await harness.run(
                agent, [{"question": "6 times 7?", "expected": "42"}], tracer=OtelTracer()
            )
    finally:
        agentlightning_mcp.uninstrument()

    assert result.rollout.status.value == "succeeded", result.rollout
    assert result.reward == 1.0
    tools = {s.attributes[semconv.GEN_AI_TOOL_CALL_ID]: s for s in result.spans_of_type("tool")}
    # the unknown tool and the malformed arguments never reached the server: no span, an error string
    assert set(tools) == {"call_mul", "call_div"}
    mul, div = tools["call_mul"], tools["call_div"]
    assert mul.name == "execute_tool multiply"
    assert mul.attributes[semconv.GEN_AI_TOOL_NAME] == "multiply"
    assert mul.attributes[semconv.GEN_AI_SYSTEM] == "mcp"
    assert mul.attributes[semconv.TOOL_ARGUMENTS] == {"a": 6, "b": 7}
    assert mul.attributes[semconv.TOOL_RESULT] == "42"
    assert mul.status.code in (SpanStatusCode.OK, SpanStatusCode.UNSET)
    assert div.attributes[semconv.TOOL_ARGUMENTS] == {"a": 1, "b": 0}
    assert "divide" in div.attributes[semconv.TOOL_RESULT]
    assert div.status.code is SpanStatusCode.ERROR
    # both LLM calls were recorded by the proxy in the same rollout; the tool spans sit between them
    llm_calls = sorted(result.spans_of_type("llm"), key=lambda s: s.start_time)
    assert len(llm_calls) == 2
    assert mul.end_time is not None and llm_calls[0].end_time is not None
    assert llm_calls[0].end_time <= mul.start_time and mul.end_time <= llm_calls[1].start_time


async def test_instrument_is_idempotent_and_reversible() -> None:
    original = ClientSession.call_tool
    agentlightning_mcp.instrument()
    wrapped = ClientSession.call_tool
    agentlightning_mcp.instrument()
    assert ClientSession.call_tool is wrapped is not original
    assert agentlightning_mcp.is_instrumented()
    agentlightning_mcp.uninstrument()
    assert ClientSession.call_tool is original and not agentlightning_mcp.is_instrumented()


async def test_outside_a_rollout_calls_work_and_record_nothing() -> None:
    agentlightning_mcp.instrument()
    try:
        async with calculator() as session:
            result = await session.call_tool("multiply", {"a": 3, "b": 5})
    finally:
        agentlightning_mcp.uninstrument()
    assert agentlightning_mcp.result_text(result) == "15"
