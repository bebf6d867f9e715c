"""The LLM proxy with the official ``openai`` client as the agent and a scripted upstream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import openai
import pytest

from agentlightning_core.proxy.upstream import OpenAIEngine
from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.triplet import TraceToTriplet
from agentlightning_core.types import LLM, AttemptStatus, Span, SpanStatusCode, semconv

from .scripted_upstream import MODEL, ScriptedUpstream, logprob, prompt_text, scripted_upstream, token_ids
from .server_helpers import TOKEN, Served, served

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture
async def upstream() -> AsyncIterator[ScriptedUpstream]:
    async with scripted_upstream() as up:
        yield up


@pytest.fixture
async def server(upstream: ScriptedUpstream) -> AsyncIterator[Served]:
    engine = OpenAIEngine(base_url=upstream.url, weights_version=7)
    async with served(engine=engine) as s:
        yield s
    await engine.close()


async def attempt_of(server: Served) -> tuple[str, str]:
    await server.client.enqueue_rollout({"q": 1})
    got = await server.client.dequeue_rollout("w")
    assert got is not None
    return got.rollout.rollout_id, got.attempt.attempt_id


def agent_client(
    server: Served, rid: str | None = None, aid: str | None = None, **headers: str
) -> openai.AsyncOpenAI:
    llm = LLM(endpoint=f"{server.url}/v1", model="policy", proxied=True, api_key=TOKEN)
    if rid is not None and aid is not None:
        llm = llm.for_attempt(rid, aid)
    return openai.AsyncOpenAI(
        base_url=llm.endpoint, api_key=llm.api_key_value, default_headers=headers, max_retries=0
    )


async def llm_spans(server: Served, rid: str) -> list[Any]:
    await server.app.state.span_recorder.flush()
    return [s for s in await server.store.query_spans(rid) if s.span_type == "llm"]


MESSAGES: list[Any] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is 2+2?"},
]


async def test_chat_call_is_answered_and_recorded_with_tokens_logprobs_and_attribution(
    server: Served,
) -> None:
    rid, aid = await attempt_of(server)
    client = agent_client(
        server, rid, aid, **{"X-AGL-Agent": "solver", "traceparent": f"00-{TRACE}-{PARENT}-01"}
    )
    response = await client.chat.completions.create(
        model="policy", messages=MESSAGES, logprobs=True, temperature=0.5
    )
    expected = "echo: What is 2+2?"
    assert response.choices[0].message.content == expected
    assert response.usage is not None and response.usage.completion_tokens == len(expected)

    (span,) = await llm_spans(server, rid)
    attrs = span.attributes
    assert span.attempt_id == aid and span.name == "gen_ai.chat" and span.kind == "client"
    assert span.status.code is SpanStatusCode.OK
    assert span.trace_id == TRACE and span.parent_id == PARENT
    assert attrs[semconv.SPAN_TYPE] == "llm"
    assert attrs[semconv.GEN_AI_OPERATION] == "chat"
    assert attrs[semconv.GEN_AI_SYSTEM] == "openai"
    assert attrs[semconv.AGENT_NAME] == "solver"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "policy"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "policy"
    assert attrs[semconv.LLM_REQUEST]["messages"] == MESSAGES
    assert attrs[semconv.LLM_REQUEST]["temperature"] == 0.5
    assert attrs[semconv.LLM_RESPONSE]["choices"][0]["message"]["content"] == expected
    assert attrs[semconv.LLM_PROMPT_TOKEN_IDS] == token_ids(prompt_text({"messages": MESSAGES}))
    assert attrs[semconv.LLM_COMPLETION_TOKEN_IDS] == token_ids(expected)
    assert attrs[semconv.LLM_COMPLETION_LOGPROBS] == [logprob(i) for i in range(len(expected))]
    assert attrs[semconv.GEN_AI_INPUT_TOKENS] == len(attrs[semconv.LLM_PROMPT_TOKEN_IDS])
    assert attrs[semconv.GEN_AI_OUTPUT_TOKENS] == len(expected)
    assert attrs[semconv.GEN_AI_FINISH_REASONS] == ["stop"]
    assert attrs[semconv.LLM_WEIGHTS_VERSION] == 7
    assert attrs[semconv.LLM_LATENCY_MS] >= 0
    assert span.end_time is not None and span.end_time >= span.start_time


async def test_recorded_calls_become_triplets_with_token_ids(server: Served) -> None:
    rid, aid = await attempt_of(server)
    client = agent_client(server, rid, aid, **{"X-AGL-Agent": "solver"})
    await client.chat.completions.create(model="policy", messages=MESSAGES)
    (triplet,) = TraceToTriplet(agent_match="solver", require_tokens=True).transform(
        await llm_spans(server, rid)
    )
    assert triplet.response["content"] == "echo: What is 2+2?"
    assert triplet.prompt == MESSAGES
    assert triplet.response_token_ids == token_ids("echo: What is 2+2?")
    assert triplet.weights_version == 7
    assert TraceToTriplet(agent_match="other").transform(await llm_spans(server, rid)) == []


async def test_tool_calls_pass_through_and_are_recorded(server: Served) -> None:
    rid, aid = await attempt_of(server)
    client = agent_client(server, rid, aid)
    response = await client.chat.completions.create(
        model="policy", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS
    )
    (call,) = response.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and call.function.arguments == '{"city": "Paris"}'
    assert response.choices[0].finish_reason == "tool_calls"
    (span,) = await llm_spans(server, rid)
    recorded = span.attributes[semconv.LLM_RESPONSE]["choices"][0]["message"]["tool_calls"]
    assert recorded[0]["function"]["name"] == "get_weather"
    assert span.attributes[semconv.LLM_REQUEST]["tools"] == TOOLS
    assert span.attributes[semconv.GEN_AI_FINISH_REASONS] == ["tool_calls"]


async def test_streamed_chat_reaches_the_agent_and_is_recorded_assembled(server: Served) -> None:
    rid, aid = await attempt_of(server)
    client = agent_client(server, rid, aid, **{"X-AGL-Agent": "streamer"})
    stream = await client.chat.completions.create(
        model="policy", messages=MESSAGES, stream=True, logprobs=True, stream_options={"include_usage": True}
    )
    pieces, usage = [], None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    expected = "echo: What is 2+2?"
    assert "".join(pieces) == expected and len(pieces) > 1
    assert usage is not None and usage.completion_tokens == len(expected)

    (span,) = await llm_spans(server, rid)
    attrs = span.attributes
    message = attrs[semconv.LLM_RESPONSE]["choices"][0]["message"]
    assert message == {"role": "assistant", "content": expected}
    assert attrs[semconv.LLM_COMPLETION_TOKEN_IDS] == token_ids(expected)
    assert attrs[semconv.LLM_COMPLETION_LOGPROBS] == [logprob(i) for i in range(len(expected))]
    assert attrs[semconv.LLM_PROMPT_TOKEN_IDS] == token_ids(prompt_text({"messages": MESSAGES}))
    assert attrs[semconv.GEN_AI_OUTPUT_TOKENS] == len(expected)
    assert attrs[semconv.GEN_AI_FINISH_REASONS] == ["stop"]
    assert attrs[semconv.AGENT_NAME] == "streamer"
    assert attrs[semconv.LLM_REQUEST]["stream"] is True
    assert span.status.code is SpanStatusCode.OK


async def test_streamed_tool_call_is_assembled(server: Served) -> None:
    rid, aid = await attempt_of(server)
    client = agent_client(server, rid, aid)
    stream = await client.chat.completions.create(
        model="policy", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS, stream=True
    )
    arguments = ""
    async for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += (call.function.arguments or "") if call.function else ""
    assert arguments == '{"city": "Paris"}'
    (span,) = await llm_spans(server, rid)
    (call,) = span.attributes[semconv.LLM_RESPONSE]["choices"][0]["message"]["tool_calls"]
    assert call == {
        "id": "call_weather_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }


async def test_text_completions_plain_and_streamed(server: Served) -> None:
    rid, aid = await attempt_of(server)
    client = agent_client(server, rid, aid)
    plain = await client.completions.create(model="policy", prompt="1+1=", logprobs=1)
    assert plain.choices[0].text == "echo: 1+1="
    stream = await client.completions.create(model="policy", prompt="2+2=", stream=True)
    text = "".join([chunk.choices[0].text async for chunk in stream if chunk.choices])
    assert text == "echo: 2+2="
    first, second = await llm_spans(server, rid)
    assert first.name == second.name == "gen_ai.text_completion"
    assert first.attributes[semconv.LLM_COMPLETION_LOGPROBS] == [logprob(i) for i in range(len("echo: 1+1="))]
    assert second.attributes[semconv.LLM_RESPONSE]["choices"][0]["text"] == "echo: 2+2="
    assert second.attributes[semconv.LLM_COMPLETION_TOKEN_IDS] == token_ids("echo: 2+2=")


async def test_models_lists_the_upstream_models(server: Served) -> None:
    rid, aid = await attempt_of(server)
    for client in (agent_client(server), agent_client(server, rid, aid)):
        models = await client.models.list()
        assert [m.id for m in models.data] == [MODEL]


async def test_unattributed_calls_are_answered_but_not_recorded(server: Served) -> None:
    rid, _ = await attempt_of(server)
    response = await agent_client(server).chat.completions.create(model="policy", messages=MESSAGES)
    assert response.choices[0].message.content == "echo: What is 2+2?"
    await server.app.state.span_recorder.flush()
    assert (await server.store.statistics())["spans"]["total"] == 0
    assert await llm_spans(server, rid) == []


async def test_unknown_rollout_or_attempt_is_404_with_a_clear_message(
    server: Served, upstream: ScriptedUpstream
) -> None:
    rid, _ = await attempt_of(server)
    for bad_rid, bad_aid, what in (
        (rid, "at-nope", "attempt 'at-nope'"),
        ("ro-nope", "at-nope", "rollout 'ro-nope'"),
    ):
        client = agent_client(server, bad_rid, bad_aid)
        with pytest.raises(openai.NotFoundError) as info:
            await client.chat.completions.create(model="policy", messages=MESSAGES)
        assert what in str(info.value) and "LLM.for_attempt" in str(info.value)
    assert upstream.requests == []  # refused before reaching the engine


async def test_upstream_error_keeps_its_status_and_is_recorded(server: Served) -> None:
    rid, aid = await attempt_of(server)
    client = agent_client(server, rid, aid)
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="error-model", messages=MESSAGES)
    assert "error-model" in str(info.value)
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="error-model", messages=MESSAGES, stream=True)
    spans = await llm_spans(server, rid)
    assert len(spans) == 2
    assert all(s.status.code is SpanStatusCode.ERROR and "400" in (s.status.description or "") for s in spans)


async def test_invalid_body_is_400_naming_the_field(server: Served) -> None:
    rid, aid = await attempt_of(server)
    client = agent_client(server, rid, aid)
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="policy", messages=None)  # type: ignore[arg-type]
    assert "messages" in str(info.value)


async def test_wrong_api_key_is_refused_when_the_server_has_a_token(server: Served) -> None:
    rid, aid = await attempt_of(server)
    client = openai.AsyncOpenAI(
        base_url=f"{server.url}/rollout/{rid}/attempt/{aid}/v1", api_key="wrong", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        await client.chat.completions.create(model="policy", messages=MESSAGES)


class SlowSpanStore(InMemoryStore):
    """Span writes take 0.3 s, as on a loaded database: the recorder lags behind the calls."""

    async def add_spans(self, spans: Sequence[Span]) -> list[Span]:
        await asyncio.sleep(0.3)
        return await super().add_spans(spans)


async def test_finishing_an_attempt_over_http_first_stores_its_llm_spans(upstream: ScriptedUpstream) -> None:
    engine = OpenAIEngine(base_url=upstream.url)
    async with served(engine=engine, store=SlowSpanStore()) as server:
        rid, aid = await attempt_of(server)
        client = agent_client(server, rid, aid)
        for _ in range(3):
            await client.chat.completions.create(model="policy", messages=MESSAGES)
        assert server.app.state.span_recorder.pending(aid) > 0  # the calls did not wait for the store
        # no explicit flush: the finish call itself must wait for the recorder
        await server.client.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        (done,) = await server.client.wait_for_rollouts([rid], timeout=5)
        spans = await server.client.query_spans(done.rollout_id)
        assert len([s for s in spans if s.span_type == "llm"]) == 3
    await engine.close()


async def test_engine_options_model_and_extra_body_are_applied(upstream: ScriptedUpstream) -> None:
    engine = OpenAIEngine(
        base_url=upstream.url, model="served-model", extra_body='{"return_token_ids": true}'
    )
    async with served(engine=engine) as server:
        rid, aid = await attempt_of(server)
        response = await agent_client(server, rid, aid).chat.completions.create(
            model="policy", messages=MESSAGES
        )
        assert response.model == "served-model"
        assert upstream.requests[-1]["model"] == "served-model"
        assert upstream.requests[-1]["return_token_ids"] is True
        (span,) = await llm_spans(server, rid)
        assert span.attributes[semconv.GEN_AI_REQUEST_MODEL] == "policy"  # what the agent asked for
        assert span.attributes[semconv.GEN_AI_RESPONSE_MODEL] == "served-model"
        assert [m.id for m in (await agent_client(server).models.list()).data] == ["served-model"]
    await engine.close()


async def test_no_engine_is_503() -> None:
    async with served() as server:
        with pytest.raises(openai.InternalServerError) as info:
            await agent_client(server).chat.completions.create(model="policy", messages=MESSAGES)
        assert info.value.status_code == 503 and "--engine" in str(info.value)


async def test_unreachable_upstream_is_503() -> None:
    engine = OpenAIEngine(base_url="http://127.0.0.1:9/v1")
    async with served(engine=engine) as server:
        with pytest.raises(openai.InternalServerError) as info:
            await agent_client(server).chat.completions.create(model="policy", messages=MESSAGES)
        assert info.value.status_code == 503 and "127.0.0.1:9" in str(info.value)
    await engine.close()
