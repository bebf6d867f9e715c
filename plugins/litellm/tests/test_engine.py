"""The ``litellm`` engine behind the real LLM proxy, against two local upstreams that speak the
real wire formats: Anthropic's Messages API (:class:`FakeAnthropic`) and an OpenAI-compatible
server (the core's ``ScriptedUpstream``). Agents use the plain ``openai`` client, as users do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from agentlightning_litellm import LiteLLMEngine
from agentlightning_litellm.testing import ApiError, FakeAnthropic, Reply, ToolUse

from agentlightning_core import LLM, Trainer, rollout
from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import ScriptedUpstream

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "add two integers",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            },
        },
    }
]


def script(body: dict[str, Any]) -> str | Reply | ApiError:
    """Anthropic's side: errors on request, a tool call when tools are offered and no result came
    back yet, else an answer that quotes the last user text."""
    text = json.dumps(body["messages"])
    for status, kind in [
        (429, "rate_limit_error"),
        (400, "invalid_request_error"),
        (529, "overloaded_error"),
        (401, "authentication_error"),
    ]:
        if f"please fail {status}" in text:
            return ApiError(status, kind, f"{kind} for this test", retry_after=7 if status == 429 else None)
    if body.get("tools") and "tool_result" not in text:
        return Reply(text="Let me add.", tool_uses=[ToolUse("add", {"a": 2, "b": 3})])
    results = [
        b
        for m in body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    if results:
        content = results[-1]["content"]
        value = content if isinstance(content, str) else " ".join(c.get("text", "") for c in content)
        return f"The sum is {value}."
    last = body["messages"][-1]["content"]
    said = last if isinstance(last, str) else " ".join(b.get("text", "") for b in last if isinstance(b, dict))
    return f"claude heard: {said}"


@pytest.fixture
async def anthropic() -> AsyncIterator[FakeAnthropic]:
    fake = FakeAnthropic(script)
    async with fake.serve():
        yield fake


@pytest.fixture
async def harness(anthropic: FakeAnthropic) -> AsyncIterator[ProxyHarness]:
    engine = LiteLLMEngine("anthropic/claude-test-1", api_base=anthropic.url, api_key="sk-ant-test")
    async with ProxyHarness(engine, model="claude") as h:
        yield h


def client(h: ProxyHarness) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=h.proxy_url, api_key="x", max_retries=0)


@rollout
async def tool_agent(task: str, main_llm: LLM) -> float:
    """An OpenAI-client agent with one tool: call, run the tool, answer."""
    llm = openai.AsyncOpenAI(base_url=main_llm.endpoint, api_key=main_llm.api_key_value, max_retries=0)
    messages: list[Any] = [{"role": "system", "content": "You add."}, {"role": "user", "content": task}]
    first = await llm.chat.completions.create(model=main_llm.model, messages=messages, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    args = json.loads(call.function.arguments)  # type: ignore[union-attr]
    messages += [first.choices[0].message.model_dump(exclude_none=True)]
    messages += [{"role": "tool", "tool_call_id": call.id, "content": str(args["a"] + args["b"])}]
    second = await llm.chat.completions.create(model=main_llm.model, messages=messages, tools=TOOLS)
    return float(
        first.choices[0].finish_reason == "tool_calls" and "5" in (second.choices[0].message.content or "")
    )


async def test_anthropic_tool_use_round_trip_is_recorded_as_openai_spans(
    harness: ProxyHarness, anthropic: FakeAnthropic
) -> None:
    (result,) = await harness.run(tool_agent, ["what is 2 + 3?"])
    assert result.rollout.status.value == "succeeded" and result.reward == 1.0
    first, second = (body for body, _ in anthropic.requests)
    # what Anthropic received: its own format, system prompt apart, tools with input_schema
    assert first["model"] == "claude-test-1" and first["max_tokens"] >= 1
    assert first["system"] == [{"type": "text", "text": "You add."}] or first["system"] == "You add."
    assert first["tools"][0]["name"] == "add" and first["tools"][0]["input_schema"]["type"] == "object"
    assert any(
        b.get("type") == "tool_result" and b.get("content") in ("5", [{"type": "text", "text": "5"}])
        for m in second["messages"]
        for b in (m["content"] if isinstance(m["content"], list) else [])
    )
    headers = anthropic.requests[0][1]
    assert headers["x-api-key"] == "sk-ant-test" and headers["anthropic-version"]
    # what the proxy recorded: OpenAI-shaped calls, tool call and usage included
    calls = result.spans_of_type("llm")
    assert len(calls) == 2
    assert [s.attributes["gen_ai.system"] for s in calls] == ["anthropic", "anthropic"]
    assert calls[0].attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert (
        calls[0].attributes["gen_ai.usage.input_tokens"] > 0
        and calls[0].attributes["gen_ai.usage.output_tokens"] > 0
    )
    (call,) = result.triplets()[0].response["tool_calls"]
    assert call["function"]["name"] == "add" and json.loads(call["function"]["arguments"]) == {"a": 2, "b": 3}
    assert call["id"].startswith("toolu_")


async def test_streaming_relays_anthropic_deltas_with_usage(harness: ProxyHarness) -> None:
    stream = await client(harness).chat.completions.create(
        model="claude",
        messages=[{"role": "user", "content": "stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    assert "".join(pieces) == "claude heard: stream this please"
    assert len(pieces) > 1  # relayed as the upstream streamed, not as one block
    assert usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0


@pytest.mark.parametrize(
    ("status", "error_class", "openai_type"),
    [
        (429, openai.RateLimitError, "requests"),
        (400, openai.BadRequestError, "invalid_request_error"),
        (401, openai.AuthenticationError, "invalid_request_error"),
        (529, openai.InternalServerError, "server_error"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_provider_error_reaches_the_agent_as_openai_would_send_it(
    harness: ProxyHarness,
    status: int,
    error_class: type[openai.APIStatusError],
    openai_type: str,
    stream: bool,
) -> None:
    with pytest.raises(error_class) as raised:
        response = await client(harness).chat.completions.create(
            model="claude", messages=[{"role": "user", "content": f"please fail {status}"}], stream=stream
        )
        if stream:
            async for _ in response:  # type: ignore[union-attr]
                pass
    error = raised.value
    assert error.status_code == status
    body = error.body
    assert isinstance(body, dict) and set(body) >= {"message", "type", "code", "param"}, body
    assert body["type"] == openai_type and body["message"].startswith(f"anthropic answered {status}:")
    kind = {
        429: "rate_limit_error",
        400: "invalid_request_error",
        529: "overloaded_error",
        401: "authentication_error",
    }
    assert f"{kind[status]} for this test" in body["message"]
    if status == 429:
        assert body["code"] == "rate_limit_exceeded" and error.response.headers["retry-after"] == "7"


async def test_rate_limit_providers_counts_calls_per_provider(
    anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_PROVIDERS", '{"anthropic": "2/60", "openai": "off"}')
    monkeypatch.setenv("RATE_LIMIT_PROVIDER_MAX_WAIT_SECONDS", "0")
    engine = LiteLLMEngine("anthropic/claude-test-1", api_base=anthropic.url, api_key="sk-ant-test")
    assert engine.provider({"model": "ignored"}) == "anthropic"
    async with ProxyHarness(engine) as h:
        llm = client(h)
        for _ in range(2):
            await llm.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.RateLimitError) as raised:
            await llm.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert "upstream provider 'anthropic' (RATE_LIMIT_PROVIDERS)" in str(raised.value)
    assert len(anthropic.requests) == 2  # the third call never reached the provider


async def test_an_openai_compatible_upstream_through_litellm() -> None:
    upstream = ScriptedUpstream(lambda body: {"content": "openai side: " + body["messages"][-1]["content"]})
    async with upstream.serve() as url:
        engine = LiteLLMEngine("openai/scripted", api_base=url, api_key="sk-local")
        assert engine.provider({}) == "openai"
        async with ProxyHarness(engine) as h:
            answer = await client(h).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}]
            )
            stream = await client(h).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "again"}], stream=True
            )
            streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert answer.choices[0].message.content == "openai side: hi"
    assert streamed == "openai side: again"
    assert upstream.requests[0].body["model"] == "scripted"
    assert upstream.requests[0].headers["Authorization"] == "Bearer sk-local"


async def test_a_trainer_serves_anthropic_by_engine_name_and_keeps_the_key_out_of_the_config(
    anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    @rollout
    async def ask(task: str, main_llm: LLM) -> float:
        llm = openai.AsyncOpenAI(base_url=main_llm.endpoint, api_key=main_llm.api_key_value, max_retries=0)
        answer = await llm.chat.completions.create(
            model=main_llm.model, messages=[{"role": "user", "content": task}]
        )
        return float(answer.choices[0].message.content == f"claude heard: {task}")

    trainer = Trainer(
        engine="litellm",
        engine_options={
            "model": "anthropic/claude-test-1",
            "api_base": anthropic.url,
            "api_key": "sk-ant-secret",
        },
        store="memory://",
        bus="memory",
        output_dir=tmp_path,
        progress=False,
    )
    result = await trainer.fit_async(ask, ["one", "two"])
    await trainer.engine.close()  # type: ignore[union-attr]
    assert result.best_score == 1.0 and len(anthropic.requests) == 2
    config = (tmp_path / "config.json").read_text()
    assert '"name": "litellm"' in config and "sk-ant-secret" not in config and '"api_key": "***"' in config


def test_bad_engine_options_name_the_field_and_the_fix() -> None:
    with pytest.raises(
        InvalidRequestError, match="names no provider LiteLLM knows; write it as '<provider>/<model>'"
    ):
        LiteLLMEngine("claude-from-nowhere-xyz")
    with pytest.raises(InvalidRequestError, match="api_base='localhost:1' must start with http"):
        LiteLLMEngine("anthropic/claude-test-1", api_base="localhost:1")
    with pytest.raises(InvalidRequestError, match="'drop_params' must be true or false"):
        LiteLLMEngine("anthropic/claude-test-1", drop_params="maybe")


async def test_an_unreachable_provider_is_a_503_naming_it() -> None:
    engine = LiteLLMEngine("anthropic/claude-test-1", api_base="http://127.0.0.1:9", api_key="k", timeout=5)
    async with ProxyHarness(engine) as h:
        with pytest.raises(openai.InternalServerError) as raised:
            await client(h).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 503 and "cannot reach anthropic" in str(raised.value)
