"""Batched sampling with a shared prompt prefill: the engine's inner loop.

Decoding a 135M model on a CPU is bound by memory bandwidth (every step reads all weights), so a
step for 16 sequences costs little more than a step for one: the engine therefore decodes every
request that arrived together in one batch. Requests with the same prompt (the ``n`` samples of
one request, or the GRPO group of one task sent by separate rollouts) are prefilled once and their
KV cache is copied per row. Finished rows leave the batch, so short answers do not pay for long ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .fast_decode import FastDecoder, KVBuffers
from .lora import RowAdapters


@dataclass
class SampleRequest:
    """One sequence to sample. ``temperature == 0`` is greedy."""

    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop_token_ids: frozenset[int] = frozenset()
    stop_strings: tuple[str, ...] = ()
    generator: torch.Generator | None = None
    #: the LoRA adapter slot that answers this row (0: the base model; see :mod:`.lora`)
    adapter: int = 0


@dataclass
class SampleResult:
    """Sampled ids (the stop token included, as vLLM returns it) and their log-probs.

    ``logprobs[j]`` is the log-probability of ``token_ids[j]`` under the distribution it was drawn
    from: softmax(logits / temperature) before top-p truncation (raw logits when greedy) — the
    policy log-prob a GRPO step at that temperature uses as its "old" log-prob.
    """

    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finish_reason: str = "length"


@dataclass
class BatchStats:
    prompts: int = 0
    unique_prompts: int = 0
    prefill_tokens: int = 0
    generated_tokens: int = 0
    steps: int = 0
    #: requests that entered the batch while it was decoding
    joined: int = 0


def _sample(
    logits: torch.Tensor,
    temps: torch.Tensor,
    top_p: torch.Tensor,
    generators: Sequence[torch.Generator | None],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next token and its log-prob for each row (rows may differ in temperature/top-p/seed)."""
    logits = logits.float()
    greedy = temps <= 0
    scaled = logits / torch.where(greedy, torch.ones_like(temps), temps)[:, None]
    logp = torch.log_softmax(scaled, dim=-1)
    tokens = torch.empty(logits.shape[0], dtype=torch.long)
    sample_rows = (~greedy).nonzero().flatten().tolist()
    if len(sample_rows) < logits.shape[0]:
        tokens[greedy] = logits[greedy].argmax(dim=-1)
    if sample_rows:
        probs = logp[sample_rows].exp()
        rows_p = top_p[sample_rows]
        if bool((rows_p < 1.0).any()):
            sorted_p, order = probs.sort(dim=-1, descending=True)
            drop = (sorted_p.cumsum(-1) - sorted_p) > rows_p[:, None]
            sorted_p = sorted_p.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        # inverse-CDF draw: one uniform number per row. torch.multinomial draws one exponential
        # number per vocabulary entry (49k per row): measured 6.4 ms against ~0.5 ms for 8 rows,
        # which was a sixth of a decode step
        cdf = probs.double().cumsum(-1)
        if any(generators[r] is not None for r in sample_rows):
            u = torch.cat([torch.rand(1, generator=generators[r], dtype=torch.float64) for r in sample_rows])
        else:
            u = torch.rand(len(sample_rows), dtype=torch.float64)
        u = (u * cdf[:, -1])[:, None]
        picked = torch.searchsorted(cdf, u, right=True).flatten().clamp_(max=probs.shape[-1] - 1)
        # a zero-probability entry (top-p cut) can only be hit by rounding: step to a kept one
        zero = probs.gather(-1, picked[:, None]).flatten() <= 0
        if bool(zero.any()):
            picked[zero] = probs[zero].argmax(-1)
        tokens[sample_rows] = picked
    return tokens, logp.gather(-1, tokens[:, None]).flatten()


def _select_cache(cache: Any, index: torch.Tensor) -> None:
    cache.batch_select_indices(index)


def cache_kwarg(model: Any) -> str:
    """The forward argument that takes the KV cache: ``cache`` from transformers 5.x on, else
    ``past_key_values``."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@dataclass
class _Prefill:
    logits: torch.Tensor  # [n, vocab] on the CPU: the distribution of each row's first token
    cache: Any  # transformers cache, one row per request
    mask: torch.Tensor  # [n, L] long: which cache slots hold each row's prompt (left padding)


def _prefill(
    model: Any,
    requests: Sequence[SampleRequest],
    pad_id: int,
    stats: BatchStats,
    adapters: RowAdapters | None = None,
) -> _Prefill:
    """Prompts through the transformers forward; a prompt shared by several rows (of the same
    adapter) runs once, and so does the prefix every prompt starts with (system prompt, tool
    list) when every row is answered by the same adapter."""
    from transformers import DynamicCache

    device = next(model.parameters()).device
    unique: dict[tuple[int, tuple[int, ...]], int] = {}
    row_prompt = [unique.setdefault((r.adapter, tuple(r.prompt_ids)), len(unique)) for r in requests]
    prompts = [p for _, p in unique]
    slots = [a for a, _ in unique]
    stats.unique_prompts += len(prompts)
    cache = DynamicCache()
    kw = cache_kwarg(model)
    shared = shared_prefix_len(prompts) if len(prompts) > 1 and len(set(slots)) == 1 else 0
    if shared:
        if adapters is not None:
            adapters.set(slots[:1], device)
        model(
            input_ids=torch.tensor([prompts[0][:shared]], device=device),
            position_ids=torch.arange(shared, device=device)[None, :],
            use_cache=True,
            logits_to_keep=1,
            **{kw: cache},
        )
        cache.batch_repeat_interleave(len(prompts))
        stats.prefill_tokens += shared
    suffixes = [p[shared:] for p in prompts]
    width = max(len(p) for p in suffixes)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), shared + width), dtype=torch.long)
    mask[:, :shared] = 1
    for i, p in enumerate(suffixes):
        ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[i, shared + width - len(p) :] = 1
        stats.prefill_tokens += len(p)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
    if adapters is not None:
        adapters.set(slots, device)
    out = model(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        use_cache=True,
        logits_to_keep=1,
        **{kw: cache},
    )
    index = torch.tensor(row_prompt, dtype=torch.long)
    logits = out.logits[:, -1, :].to("cpu")[index]
    if len(prompts) != len(requests) or row_prompt != list(range(len(requests))):
        _select_cache(cache, index.to(device))
    return _Prefill(logits, cache, mask[index])


#: ``join(active_rows) -> requests``: requests that arrived since, to decode along from the next
#: token on (continuous batching); ``finished(index, result)``: request ``index`` (in the order
#: of ``requests`` followed by every joined one) is complete
JoinHook = Callable[[int], Sequence[SampleRequest]]
FinishedHook = Callable[[int, SampleResult], None]


@torch.inference_mode()
def generate_batch(
    model: Any,
    requests: Sequence[SampleRequest],
    pad_id: int,
    decode: Any = None,
    decoder: FastDecoder | None = None,
    *,
    join: JoinHook | None = None,
    finished: FinishedHook | None = None,
    stats: BatchStats | None = None,
    adapters: RowAdapters | None = None,
) -> tuple[list[SampleResult], BatchStats]:
    """Sample every request in one batch; ``decode(ids) -> str`` is needed only for stop strings.

    With ``decoder`` (a :class:`~.fast_decode.FastDecoder` over ``model``), the tokens after the
    prefill are decoded by it instead of the transformers forward: same maths, less overhead.
    With a decoder, ``join`` lets requests that arrive while the batch decodes enter it at the
    next token instead of waiting for the whole batch to finish: they are prefilled, their KV
    cache is merged into the batch's buffers (see :meth:`KVBuffers.extend`) and they decode with
    the others. ``finished`` hears of each request as soon as it is done; ``stats`` (filled as
    the batch goes, so it is current whenever ``finished`` is called) can be passed in.
    ``adapters`` (the served model's :class:`~.lora.RowAdapters`) is told each forward's row
    slots, from the requests' ``adapter``: rows of different LoRA adapters decode together.
    """
    from transformers import DynamicCache

    device = next(model.parameters()).device
    requests = list(requests)
    stats = stats if stats is not None else BatchStats()
    stats.prompts += len(requests)
    results = [SampleResult() for _ in requests]
    if not requests:
        return results, stats
    first = _prefill(model, requests, pad_id, stats, adapters)
    logits, cache, mask = first.logits, first.cache, first.mask
    next_pos = mask.sum(-1)  # position of the next token = prompt length
    kv: KVBuffers | None = None
    if decoder is not None:
        kv = KVBuffers.from_cache(cache, mask.shape[1] + max(r.max_new_tokens for r in requests))
        cache = DynamicCache()  # the buffers hold a copy: let the prefill cache go
        mask = mask.bool()
    else:
        join = None  # joining needs the decoder's buffers
    kw = cache_kwarg(model)
    active = list(range(len(requests)))  # request index of each batch row
    while active:
        # only a batch that is still decoding takes in arrivals; a fresh batch is gathered by the
        # caller's quiet window instead, so a group that arrives together shares one prefill
        if join is not None and kv is not None:
            joined = list(join(len(active)))
            if joined:
                base = len(requests)
                requests.extend(joined)
                results.extend(SampleResult() for _ in joined)
                stats.prompts += len(joined)
                new = _prefill(model, joined, pad_id, stats, adapters)
                remaining = [requests[a].max_new_tokens - len(results[a].token_ids) for a in active]
                mask = kv.extend(
                    new.cache,
                    new.mask.bool().to(device),
                    mask,
                    max(remaining + [r.max_new_tokens for r in joined]),
                )
                logits = torch.cat([logits, new.logits])
                next_pos = torch.cat([next_pos, new.mask.sum(-1)])
                active.extend(range(base, base + len(joined)))
                stats.joined += len(joined)
        tokens, logps = _sample(
            logits,
            torch.tensor([requests[a].temperature for a in active], dtype=torch.float32),
            torch.tensor([requests[a].top_p for a in active], dtype=torch.float32),
            [requests[a].generator for a in active],
        )
        keep: list[int] = []
        stats.steps += 1
        for row, req_i in enumerate(active):
            req = requests[req_i]
            res = results[req_i]
            tok = int(tokens[row])
            res.token_ids.append(tok)
            res.logprobs.append(float(logps[row]))
            stats.generated_tokens += 1
            if tok in req.stop_token_ids:
                res.finish_reason = "stop"
            elif (
                req.stop_strings
                and decode is not None
                and _hits_stop(decode(res.token_ids), req.stop_strings)
            ):
                res.finish_reason = "stop"
            elif len(res.token_ids) >= req.max_new_tokens:
                res.finish_reason = "length"
            else:
                keep.append(row)
                continue
            if finished is not None:
                finished(req_i, res)
        if not keep:
            break
        if len(keep) != len(active):
            sel = torch.tensor(keep, dtype=torch.long)
            if kv is not None:
                trimmed = kv.select(sel.to(device), mask[sel])
                mask = trimmed if trimmed is not None else mask[sel]
            else:
                _select_cache(cache, sel.to(device))
                mask = mask[sel]
            next_pos = next_pos[sel]
            tokens = tokens[sel]
            active = [active[r] for r in keep]
        mask = torch.cat([mask, torch.ones((len(active), 1), dtype=mask.dtype)], dim=-1)
        if adapters is not None:
            adapters.set([requests[a].adapter for a in active], device)
        if decoder is not None and kv is not None:
            logits = decoder.step(tokens.to(device), next_pos.to(device), kv, mask.to(device)).to("cpu")
        else:
            out = model(
                input_ids=tokens[:, None].to(device),
                attention_mask=mask.to(device),
                position_ids=next_pos[:, None].to(device),
                use_cache=True,
                **{kw: cache},
            )
            logits = out.logits[:, -1, :].to("cpu")
        next_pos = next_pos + 1
    if adapters is not None:
        adapters.set(None, device)
    return results, stats


#: a common prefix shorter than this is not worth a separate forward pass
MIN_SHARED_PREFIX = 16


def shared_prefix_len(prompts: Sequence[Sequence[int]], minimum: int = MIN_SHARED_PREFIX) -> int:
    """Tokens every prompt starts with, leaving each at least one token of its own; 0 when short."""
    first = prompts[0]
    limit = min(len(p) for p in prompts) - 1
    n = 0
    while n < limit and all(p[n] == first[n] for p in prompts):
        n += 1
    return n if n >= minimum else 0


def _hits_stop(text: str, stops: Sequence[str]) -> bool:
    return any(s and s in text for s in stops)
