"""The otel tracer with a real runner, store, LLM proxy and HTTP server."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
from agentlightning_otel import OtelTracer, SpanTree, agent_span, set_tool_result, tool_span
from opentelemetry import trace

from agentlightning_core import TraceToTriplet, emit_reward
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import ForwardingEngine, ScriptedUpstream
from agentlightning_core.types import LLM, semconv


def test_otel_is_registered_through_its_entry_point_and_is_the_default() -> None:
    manager = AglPluginManager()
    assert isinstance(manager.tracer_factory("otel")(), OtelTracer)
    info = next(i for i in manager.plugin_infos() if i.name == "otel")
    assert info.distribution == "agentlightning-otel"


def test_resolve_tracer_prefers_otel_once_installed() -> None:
    from agentlightning_core.tracer import NoopTracer
    from agentlightning_core.trainer.resolve import resolve_tracer

    manager = AglPluginManager()
    assert isinstance(resolve_tracer(None, manager), OtelTracer)
    assert isinstance(resolve_tracer("noop", manager), NoopTracer)
    assert isinstance(resolve_tracer(None, AglPluginManager(disabled=["otel"])), NoopTracer)


def _answer(body: dict) -> dict:
    return {"content": f"answer to {body['messages'][-1]['content']}"}


async def _two_agent_rollout(task: str, llm: LLM) -> float:
    """Two named agents, one tool, one LLM call each, through the proxy with the plain openai client."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value)
    with agent_span("planner"):
        plan = await client.chat.completions.create(
            model=llm.model, messages=[{"role": "user", "content": task}]
        )
        with tool_span("lookup", {"q": task}, call_id="c1") as span:
            set_tool_result(span, {"found": 3})
    with agent_span("solver"):
        await client.chat.completions.create(
            model=llm.model, messages=[{"role": "user", "content": plan.choices[0].message.content or ""}]
        )
    emit_reward(0.25, name="partial")
    return 1.0


async def test_spans_reach_the_store_linked_to_the_proxy_llm_spans(tmp_path: Path) -> None:
    upstream = ScriptedUpstream(_answer)
    async with upstream.serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
        tracer = OtelTracer()
        (result,) = await harness.run(_two_agent_rollout, ["2+2"], tracer=tracer)
    assert result.rollout.status.value == "succeeded"
    spans = result.spans
    assert all(s.rollout_id == result.rollout.rollout_id for s in spans)
    assert len({s.sequence_id for s in spans}) == len(spans)
    by_name = {s.name: s for s in spans}
    root = by_name["agentlightning.rollout"]
    planner, solver = by_name["invoke_agent planner"], by_name["invoke_agent solver"]
    tool = by_name["execute_tool lookup"]
    assert planner.parent_id == root.span_id and solver.parent_id == root.span_id
    assert tool.parent_id == planner.span_id and tool.span_type == "tool"
    assert tool.attributes[semconv.TOOL_ARGUMENTS] == {"q": "2+2"}
    assert tool.attributes[semconv.TOOL_RESULT] == {"found": 3}
    assert (
        planner.attributes["agentlightning.start_sequence"]
        < solver.attributes["agentlightning.start_sequence"]
    )
    llm_spans = sorted(result.spans_of_type("llm"), key=lambda s: s.start_time)
    assert len(llm_spans) == 2
    # W3C traceparent made each proxy span a child of the agent span that called, in the same trace
    assert [s.parent_id for s in llm_spans] == [planner.span_id, solver.span_id]
    assert {s.trace_id for s in llm_spans} == {root.trace_id}
    # and X-AGL-Agent named the agent on the LLM span itself
    assert [s.attributes[semconv.AGENT_NAME] for s in llm_spans] == ["planner", "solver"]
    headers = [r.headers for r in upstream.requests]
    assert len(headers) == 2
    triplets = TraceToTriplet(agent_match="solver").transform(spans)
    assert [t.agent_name for t in triplets] == ["solver"] and triplets[0].reward == 1.0
    assert triplets[0].response_token_ids
    # last_trace holds the agent-side tree; the store's spans give the full one
    last = tracer.last_trace()
    assert {s.name for s in last.spans} >= {"invoke_agent planner", "execute_tool lookup"}
    full = SpanTree(spans)
    text = full.text()
    assert "[agent] invoke_agent planner" in text and "[llm] gen_ai.chat" in text and "[reward]" in text
    # the in-process server's own spans (FastAPI answering the proxied call) are not the agent's
    assert not [s for s in spans if s.kind == "server" or s.name.startswith("fastapi")]
    svg = full.visualize("tree_graph", tmp_path / "trace.svg")
    content = svg.read_text()
    assert content.startswith("<svg") and content.count("<rect") == len(spans) + 1
    if shutil.which("dot"):  # PNG goes through Graphviz when it is installed
        png = full.visualize("tree_graph", tmp_path / "trace.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_concurrent_attempts_keep_their_spans_apart() -> None:
    async def agent(task: str) -> float:
        for i in range(3):
            with agent_span(f"{task}-{i}"):
                await asyncio.sleep(0.01)
        return 0.0

    async with ScriptedUpstream(_answer).serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
        results = await harness.run(agent, ["a", "b", "c", "d"], tracer=OtelTracer(), concurrency=4)
    for task, result in zip(["a", "b", "c", "d"], results, strict=True):
        names = sorted(s.name for s in result.spans if s.span_type == "agent")
        assert names == [f"invoke_agent {task}-{i}" for i in range(3)]


async def test_headers_are_injected_only_inside_rollouts() -> None:
    from agentlightning_otel import propagation

    tracer = OtelTracer()
    tracer.init_worker("w")
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with trace.get_tracer("t").start_as_current_span("outside"):
            await client.get("http://x/")
    assert "traceparent" not in seen[0]
    assert propagation.trace_headers() == {}


def test_a_user_provider_is_kept_and_receives_the_spans_too(tmp_path: Path) -> None:
    """AgentOps-style: the application set its own SDK provider first; ours adds a processor."""
    script = textwrap.dedent(
        """
        import asyncio
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from agentlightning_core import InMemoryStore
        from agentlightning_core.runner import Runner
        from agentlightning_core.types import RolloutRequest
        from agentlightning_otel import OtelTracer, agent_span

        exporter = InMemorySpanExporter()
        user_provider = TracerProvider()
        user_provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(user_provider)

        async def agent(task):
            with agent_span("helper"):
                pass
            return 1.0

        async def main():
            store = InMemoryStore()
            await store.start()
            (r,) = await store.enqueue_rollouts([RolloutRequest(input="x")])
            tracer = OtelTracer()
            await Runner(agent, store, tracer=tracer, max_rollouts=1).run()
            assert trace.get_tracer_provider() is user_provider, "our tracer replaced the user's provider"
            assert tracer.provider is user_provider
            stored = {s.name for s in await store.query_spans(r.rollout_id)}
            assert "invoke_agent helper" in stored, stored
            exported = {s.name: s for s in exporter.get_finished_spans()}
            assert "invoke_agent helper" in exported, exported
            assert exported["invoke_agent helper"].attributes["agentlightning.rollout_id"] == r.rollout_id
            print("COOPERATED")

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "COOPERATED" in done.stdout
