"""The lean decode step reproduces the transformers forward (the real default model)."""

from __future__ import annotations

import pytest
import torch
from agentlightning_transformers.fast_decode import FastDecoder, KVBuffers, supports
from agentlightning_transformers.generate import SampleRequest, generate_batch
from agentlightning_transformers.loading import load
from agentlightning_transformers.precision import resolve_dtype
from transformers import DynamicCache

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model() -> object:
    torch.set_num_threads(2)
    lm, _tok, _path = load(None, dtype="float32")
    return lm


def test_decode_steps_equal_the_transformers_forward_with_padding_and_dropped_rows(model: object) -> None:
    assert supports(model)
    lm: object = model
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 1000, (4, 12), generator=gen)
    mask = torch.ones((4, 12), dtype=torch.long)
    mask[1, :5] = 0  # left padding: rows of different lengths
    mask[3, :9] = 0
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    decoder = FastDecoder(lm)
    with torch.inference_mode():
        cache = DynamicCache()
        out = lm(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, cache=cache)  # type: ignore[operator]
        kv = KVBuffers.from_cache(cache, 12 + 10)
        tokens = out.logits[:, -1].argmax(-1)
        next_pos = mask.sum(-1)
        hf_mask = mask.clone()
        for step in range(8):
            if step == 4:  # rows 0 and 2 finish: both caches drop them
                keep = torch.tensor([1, 3])
                cache.batch_select_indices(keep)
                kv.select(keep)
                tokens, next_pos, hf_mask = tokens[keep], next_pos[keep], hf_mask[keep]
            hf_mask = torch.cat([hf_mask, torch.ones((len(tokens), 1), dtype=torch.long)], dim=-1)
            want = lm(  # type: ignore[operator]
                input_ids=tokens[:, None],
                attention_mask=hf_mask,
                position_ids=next_pos[:, None],
                use_cache=True,
                cache=cache,
            ).logits[:, -1]
            got = decoder.step(tokens, next_pos, kv, hf_mask.bool())
            assert got.shape == want.shape
            assert torch.allclose(got, want.float(), atol=1e-3), (got - want).abs().max()
            tokens = want.argmax(-1)
            next_pos = next_pos + 1


def test_generate_batch_gives_the_same_greedy_tokens_with_and_without_the_fast_decoder(model: object) -> None:
    prompts = [[1, 504, 3458, 314, 253, 1345], [1, 504, 3458, 314, 253, 1345], [1, 20, 30, 40]]
    rows = [SampleRequest(prompt_ids=p, max_new_tokens=12, temperature=0.0) for p in prompts]
    plain, _ = generate_batch(model, rows, pad_id=0)
    fast, _ = generate_batch(model, rows, pad_id=0, decoder=FastDecoder(model))
    assert [r.token_ids for r in fast] == [r.token_ids for r in plain]
    for a, b in zip(fast, plain, strict=True):
        assert torch.allclose(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=1e-3)


def test_refresh_picks_up_new_weights(model: object) -> None:
    decoder = FastDecoder(model)
    layer = model.model.layers[0].self_attn.q_proj  # type: ignore[attr-defined]
    with torch.no_grad():
        old = layer.weight.clone()
        layer.weight.mul_(0.5)
        decoder.refresh()
        rows = layer.weight.shape[0]
        assert torch.equal(decoder.layers[0].wqkv[:rows], layer.weight)
        layer.weight.copy_(old)


def test_auto_dtype_is_bfloat16_only_where_native_and_bad_names_fail() -> None:
    assert resolve_dtype("auto", "cpu") in {"bfloat16", "float32"}
    assert resolve_dtype("fp32") == "float32"
    assert resolve_dtype("bf16") == "bfloat16"
    with pytest.raises(ValueError, match="dtype='int4'"):
        resolve_dtype("int4")


def test_requests_joining_a_running_batch_decode_as_if_alone(model: object) -> None:
    """Continuous batching: a shorter and a longer prompt join mid-decode (the longer one shifts
    the batch's cache right); every row's greedy tokens and log-probs equal decoding it alone."""
    decoder = FastDecoder(model)
    prompts = [
        [1, 504, 3458, 314, 253, 1345],
        [1, 20, 30, 40],
        [1, 504, 3458, 314, 253, 1345, 77, 88, 99, 100, 101, 102, 103, 104, 105],
    ]
    rows = [
        SampleRequest(prompt_ids=p, max_new_tokens=n, temperature=0.0)
        for p, n in zip(prompts, [12, 5, 9], strict=True)
    ]
    alone = [generate_batch(model, [r], pad_id=0, decoder=decoder)[0][0] for r in rows]
    arrivals = {3: [rows[1]], 7: [rows[2]]}  # join() call number -> requests that arrived
    calls: list[int] = []
    order: list[int] = []

    def join(active: int) -> list[SampleRequest]:
        calls.append(active)
        return arrivals.pop(len(calls), [])

    results, stats = generate_batch(
        model, [rows[0]], pad_id=0, decoder=decoder, join=join, finished=lambda i, _r: order.append(i)
    )
    assert stats.joined == 2 and stats.prompts == 3
    assert [r.token_ids for r in results] == [r.token_ids for r in alone]
    for got, want in zip(results, alone, strict=True):
        assert torch.allclose(torch.tensor(got.logprobs), torch.tensor(want.logprobs), atol=1e-3)
    assert order == [1, 0, 2]  # each reported when done, not at the end of the batch
