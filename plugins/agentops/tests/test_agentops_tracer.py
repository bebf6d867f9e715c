"""The ``agentops`` tracer records AgentOps' instrumentation into the store, and nothing leaves.

A plain OpenAI-client agent runs through the real proxy, runner and store against a scripted
model. AgentOps' OpenAI instrumentor (the real SDK, not initialised: no key) records the call
on the tracer's provider; the test refuses every socket connection that is not to this machine.
"""

from __future__ import annotations

import pytest

pytest.importorskip("agentops", reason="runs in .venv-agentops (make test-agentops)")

from collections.abc import Iterator
from typing import Any

import pytest
from agentlightning_agentops import AgentOpsTracer, uninstrument_all
from openai import AsyncOpenAI

from agentlightning_core.testing.network import refuse_remote_connections
from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import ForwardingEngine, ScriptedUpstream
from agentlightning_core.types import LLM, semconv


@pytest.fixture
def no_network() -> Iterator[list[Any]]:
    with refuse_remote_connections() as attempts:
        yield attempts


async def solver(task: dict[str, Any], llm: LLM) -> float:
    client = AsyncOpenAI(base_url=llm.endpoint, api_key="none")
    reply = await client.chat.completions.create(
        model=llm.model, messages=[{"role": "user", "content": task["question"]}]
    )
    return 1.0 if task["expected"] in (reply.choices[0].message.content or "") else 0.0


@pytest.mark.timeout(120)
async def test_agentops_spans_reach_the_store_locally_and_calls_count_once(no_network: list[Any]) -> None:
    tracer = AgentOpsTracer()
    upstream = ScriptedUpstream(lambda body: {"content": "It is 42."})
    try:
        async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
            (result,) = await harness.run(
                solver, [{"question": "6 times 7?", "expected": "42"}], tracer=tracer
            )
    finally:
        uninstrument_all()

    assert tracer.mode == "local"
    assert "OpenaiInstrumentor" in tracer.instrumented
    assert result.rollout.status.value == "succeeded" and result.reward == 1.0
    recorded = [s for s in result.spans if s.attributes.get("agentlightning.source") == "agentops"]
    (chat,) = [s for s in recorded if s.name == "openai.chat.completion"]
    assert chat.span_type == "other"
    assert chat.attributes["gen_ai.prompt.0.content"] == "6 times 7?"
    assert chat.attributes["gen_ai.completion.0.content"] == "It is 42."
    # the proxy recorded the same call with token ids; AgentOps' copy is not a second LLM call
    assert len(result.spans_of_type("llm")) == 1
    assert len(result.triplets()) == 1
    assert no_network == []


def test_spans_of_other_code_are_left_alone() -> None:
    from agentlightning_agentops import span_type

    assert span_type({semconv.GEN_AI_OPERATION: "execute_tool"}) is None
    assert span_type({"agentops.span.kind": "agent"}) == "agent"
    assert span_type({"agentops.span.kind": "tool"}) == "tool"
    assert span_type({"agentops.span.kind": "workflow"}) == "other"
