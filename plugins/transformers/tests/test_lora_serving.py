"""LoRA adapters served on top of the base weights: answers equal the merged model's, rows of
different adapters decode in one batch as they would alone, an update copies only the adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from agentlightning_transformers import TransformersEngine
from transformers import AutoModelForCausalLM

from agentlightning_core.engine import LoRAAdapter

pytestmark = pytest.mark.slow

TARGETS = ("self_attn.q_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.up_proj", "mlp.down_proj")


def ask(question: str, model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "max_tokens": 6,
        "temperature": 0,
    }


def random_adapter(engine: TransformersEngine, name: str, seed: int, rank: int) -> LoRAAdapter:
    g = torch.Generator().manual_seed(seed)
    named = dict(engine.model.named_modules())
    modules = {}
    for i in range(len(engine.model.model.layers)):
        for leaf in TARGETS:
            path = f"model.layers.{i}.{leaf}"
            layer = named[path]
            out_f, in_f = layer.weight.shape
            a = torch.randn((rank, in_f), generator=g) * 0.05
            b = torch.randn((out_f, rank), generator=g) * 0.05
            modules[path] = (a, b)
    return LoRAAdapter(name=name, modules=modules, scaling=2.0)


def merged_logprobs(
    base: Any, adapter: LoRAAdapter, prompt: list[int], completion: list[int]
) -> torch.Tensor:
    """The reference: a plain model whose weights are W + scaling·B·A, one plain forward."""
    state = base.state_dict()
    saved = {p: state[f"{p}.weight"].clone() for p in adapter.modules}
    with torch.no_grad():
        for path, (a, b) in adapter.modules.items():
            state[f"{path}.weight"] += adapter.scaling * (b @ a)
        logits = base(input_ids=torch.tensor([prompt + completion])).logits[0, len(prompt) - 1 : -1]
        for path, value in saved.items():
            state[f"{path}.weight"].copy_(value)
    return torch.log_softmax(logits.float(), -1).gather(-1, torch.tensor(completion)[:, None]).flatten()


@pytest.fixture(scope="module")
def engine() -> Iterator[TransformersEngine]:
    eng = TransformersEngine(threads=2, max_tokens=16, dtype="float32")  # compared to float rounding
    asyncio.run(eng.start())
    yield eng
    asyncio.run(eng.close())


def served_logprobs(response: dict[str, Any]) -> torch.Tensor:
    return torch.tensor([c["logprob"] for c in response["choices"][0]["logprobs"]["content"]])


def test_adapters_answer_as_the_merged_model_in_one_batch_and_updates_copy_only_the_adapter(
    engine: TransformersEngine,
) -> None:
    base = AutoModelForCausalLM.from_pretrained(str(engine.model_path), dtype=torch.float32)
    base.eval()
    q_before = engine.model.model.layers[3].self_attn.q_proj.weight.detach().clone()
    one = random_adapter(engine, "writer", seed=1, rank=4)
    two = random_adapter(engine, "checker", seed=2, rank=8)  # ranks may differ
    assert asyncio.run(engine.update_adapter(one)) == 1
    assert asyncio.run(engine.update_adapter(two, version=7)) == 7
    assert engine.weights_version == 0  # the base weights did not change

    async def alone(model: str) -> dict[str, Any]:
        return await engine.chat_completions(ask("What is 2+2?", model))

    async def together() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(
                engine.chat_completions(ask("What is 2+2?", engine.model_name)),
                engine.chat_completions(ask("What is 2+2?", "writer")),
                engine.chat_completions(ask("What is 2+2?", "checker")),
            )
        )

    solo = {m: asyncio.run(alone(m)) for m in (engine.model_name, "writer", "checker")}
    batch = asyncio.run(together())
    assert engine.last_batch is not None and engine.last_batch.prompts == 3  # one batch, three adapters
    for response, (model, want) in zip(batch, solo.items(), strict=True):
        assert response["model"] == model
        assert response["choices"][0]["token_ids"] == want["choices"][0]["token_ids"]
        assert torch.allclose(served_logprobs(response), served_logprobs(want), atol=1e-4)
    assert batch[1]["weights_version"] == 1 and batch[1]["adapter"] == "writer"
    assert batch[2]["weights_version"] == 7
    assert batch[0]["weights_version"] == 0 and "adapter" not in batch[0]
    # the adapters change the answers, and each equals the merged model's
    ids = {m: r["choices"][0]["token_ids"] for m, r in solo.items()}
    assert len({tuple(v) for v in ids.values()}) > 1
    prompt = solo["writer"]["prompt_token_ids"]
    for model, adapter in (("writer", one), ("checker", two)):
        want = merged_logprobs(base, adapter, prompt, ids[model])
        assert torch.allclose(served_logprobs(solo[model]), want, atol=2e-3), model

    # an update copies the adapter's matrices; the base weights are untouched
    three = random_adapter(engine, "writer", seed=3, rank=4)
    assert asyncio.run(engine.update_adapter(three)) == 2
    assert torch.equal(engine.model.model.layers[3].self_attn.q_proj.weight, q_before)
    again = asyncio.run(alone("writer"))
    assert again["weights_version"] == 2
    want = merged_logprobs(base, three, prompt, again["choices"][0]["token_ids"])
    assert torch.allclose(served_logprobs(again), want, atol=2e-3)
    # full weight swaps still take the plain model's names once layers are wrapped
    name = "model.layers.3.self_attn.q_proj.weight"
    assert asyncio.run(engine.update_weights({name: q_before})) == 1


def test_a_module_the_model_lacks_is_refused_with_the_linear_layers_it_has(
    engine: TransformersEngine,
) -> None:
    bad = LoRAAdapter(
        name="x", modules={"model.layers.0.attn.q": (torch.zeros(1, 1), torch.zeros(1, 1))}, scaling=1.0
    )
    with pytest.raises(KeyError, match="q_proj"):
        asyncio.run(engine.update_adapter(bad))
    with pytest.raises(ValueError, match="differ from the base model"):
        asyncio.run(engine.update_adapter(LoRAAdapter(name=engine.model_name, modules={}, scaling=1.0)))
