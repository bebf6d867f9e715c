"""The one-process Trainer end to end: its own server and LLM proxy in front of an engine (a
scripted OpenAI-compatible upstream), an agent written with the official ``openai`` client and
no Agent Lightning code but the resource it is handed — the zero-code-change path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import openai
import pytest

from agentlightning_core import (
    LLM,
    Algorithm,
    AlgorithmResult,
    PromptTemplate,
    Trainer,
    TrainerContext,
    rollout,
)
from agentlightning_core.proxy.upstream import OpenAIEngine
from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.types import Span, semconv

from .scripted_upstream import ScriptedUpstream, scripted_upstream

EXAMPLE_AGENT = Path(__file__).resolve().parents[2] / "examples" / "agents" / "qa_agent.py"


@pytest.fixture
async def upstream() -> AsyncIterator[ScriptedUpstream]:
    async with scripted_upstream() as up:
        yield up


@rollout
async def echo_agent(task: dict[str, str], llm: LLM) -> float:
    """Plain openai client code: the only Agent Lightning thing is the endpoint it was given."""
    client = openai.AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0)
    first = await client.chat.completions.create(
        model=llm.model, messages=[{"role": "user", "content": task["question"]}], logprobs=True
    )
    second = await client.chat.completions.create(
        model=llm.model,
        messages=[{"role": "user", "content": f"again: {first.choices[0].message.content}"}],
        extra_headers={"X-AGL-Agent": "checker"},
    )
    return float(task["question"] in (second.choices[0].message.content or ""))


class SlowLLMSpanStore(InMemoryStore):
    """The real in-memory store, slow to write the proxy's LLM spans: without the Trainer's
    flush-before-finish, rollouts would be final before their LLM calls are stored."""

    async def add_spans(self, spans: Sequence[Span]) -> list[Span]:
        if any(s.span_type == "llm" for s in spans):
            await asyncio.sleep(0.3)
        return await super().add_spans(spans)


class CollectTriplets(Algorithm):
    """Runs the training data once through the proxy's default LLM and keeps the triplets."""

    def __init__(self) -> None:
        self.outcomes: list[Any] = []

    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        update = await ctx.publish_resources({"llm": ctx.default_llm(temperature=0.0)})
        self.outcomes = await ctx.run_rollouts(ctx.train_data, resources_id=update.resources_id)
        return AlgorithmResult(best_resources_id=update.resources_id)


async def test_fit_routes_every_llm_call_through_the_proxy_and_records_it(
    upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    algorithm = CollectTriplets()
    engine = OpenAIEngine(base_url=upstream.url)
    trainer = Trainer(
        algorithm,
        engine=engine,
        store=SlowLLMSpanStore(),
        bus="memory",
        token="trainer-token-123",
        output_dir=tmp_path,
        progress=False,
        n_runners=2,
        concurrency=2,
    )
    tasks = [{"question": f"q{i}"} for i in range(5)]
    try:
        await trainer.fit_async(echo_agent, tasks)
    finally:
        await engine.close()  # fit_async leaves an engine instance it was given open
    assert len(algorithm.outcomes) == 5
    for outcome in algorithm.outcomes:
        assert outcome.succeeded and outcome.reward == 1.0
        calls = [s for s in outcome.spans if s.span_type == "llm"]
        # Both calls are stored by the time the rollout is final (the proxy's buffer is flushed
        # before the in-process runner finishes the attempt), attributed to this attempt.
        assert len(calls) == 2
        assert {s.attempt_id for s in outcome.spans} == {outcome.spans[0].attempt_id}
        triplets = outcome.triplets()
        assert [t.agent_name for t in triplets] == [None, "checker"]
        assert triplets[0].prompt == [{"role": "user", "content": outcome.rollout.input["question"]}]
        assert triplets[0].response_token_ids and triplets[0].response_logprobs
        assert all(t.reward == 1.0 for t in triplets)
    # The proxy saw the token the LLM resource carried, and forwarded the requests upstream.
    assert len(upstream.requests) == 10
    best = trainer.best_resources().resources["llm"]
    assert isinstance(best, LLM) and best.proxied and best.endpoint.endswith("/v1")
    assert best.api_key_value == "trainer-token-123"


async def test_dev_shows_the_proxy_recorded_calls(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    trainer = Trainer(
        engine="openai",  # built by name from engine_options: the Trainer closes it
        engine_options={"base_url": upstream.url},
        store="memory://",
        bus="memory",
        output_dir=tmp_path,
        progress=False,
    )
    report = await trainer.dev_async(echo_agent, [{"question": "hello"}], quiet=True)
    (item,) = report.rollouts
    assert item.outcome.succeeded
    names = [s.name for s in item.outcome.spans]
    assert names.count(semconv.LLM_SPAN_NAME) == 2 and names[-1] == semconv.REWARD_SPAN_NAME


async def test_the_docs_example_agent_trains_through_the_proxy(
    upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    """examples/agents/qa_agent.py, shown in docs/agents.md, as the docs use it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("qa_agent_example", EXAMPLE_AGENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    trainer = Trainer(
        engine="openai",
        engine_options={"base_url": upstream.url},
        initial_resources={"prompt": PromptTemplate(template="Answer briefly: {question}")},
        store="memory://",
        bus="memory",
        output_dir=tmp_path,
        progress=False,
        concurrency=4,
    )
    tasks = [  # the scripted upstream echoes the question, so "paris" is found, "42" is not
        {"question": "What is the capital of France? paris", "answer": "Paris"},
        {"question": "What is six times seven?", "answer": "42"},
    ]
    result = await trainer.fit_async(module.qa_agent, tasks)
    assert result.best_score == 0.5
    best = trainer.best_resources().resources
    assert set(best) == {"prompt", "main_llm"} and isinstance(best["main_llm"], LLM)
    sent = upstream.requests[0]["messages"][0]["content"]
    assert sent.startswith("Answer briefly: ")


@pytest.mark.parametrize("how", ["engine_option", "env"])
async def test_the_model_sent_upstream_is_set_by_engine_option_or_environment(
    upstream: ScriptedUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    options: dict[str, Any] = {"base_url": upstream.url}
    if how == "env":
        monkeypatch.setenv("AGL_UPSTREAM_MODEL", "my-upstream-model")
    else:
        monkeypatch.delenv("AGL_UPSTREAM_MODEL", raising=False)
        options["model"] = "my-upstream-model"
    algorithm = CollectTriplets()
    trainer = Trainer(
        algorithm,
        engine="openai",
        engine_options=options,
        store="memory://",
        bus="memory",
        output_dir=tmp_path,
        progress=False,
    )
    await trainer.fit_async(echo_agent, [{"question": "q0"}])
    assert algorithm.outcomes[0].succeeded
    assert [r["model"] for r in upstream.requests] == ["my-upstream-model"] * 2
    # the agent is handed the same name, so its own requests and logs agree with the upstream's
    assert trainer.best_resources().resources["llm"].model == "my-upstream-model"
