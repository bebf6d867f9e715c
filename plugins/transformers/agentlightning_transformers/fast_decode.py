"""A lean decode step for Llama-family models: the engine's per-token forward without the framework.

Decoding one token for a batch of 8 on 2 CPU cores, SmolLM2-135M spends more time in
transformers' per-module plumbing (30 layers × ~40 small ops, keyword routing, cache objects,
mask building) than in its matrix products. This module runs the same maths with the model's own
weights in a handful of ops per layer:

* q/k/v and gate/up projections fused into one matrix product each (weights concatenated once,
  refreshed on every weight swap);
* the KV cache is one preallocated buffer per layer, written in place at the slot every row shares
  (rows are left-padded, so they all have the same cache length; each row keeps its own RoPE
  position);
* rotary cos/sin computed once per step by the model's own rotary module (any RoPE scaling it
  implements) and shared by all layers.

Prefill still runs through the transformers forward (one call, compute-bound). The result equals
the transformers forward up to float rounding (tested against it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

#: model types whose decoder layer is Llama's (pre-norm, RMSNorm, RoPE, GQA, SwiGLU MLP)
SUPPORTED_MODEL_TYPES = frozenset({"llama", "qwen2", "mistral"})


def supports(model: Any) -> bool:
    """Whether :class:`FastDecoder` reproduces this model's forward."""
    cfg = getattr(model, "config", None)
    if cfg is None or getattr(cfg, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        return False
    if getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True):
        return False  # sliding-window attention: not implemented here
    if getattr(cfg, "hidden_act", "silu") != "silu" or getattr(cfg, "mlp_bias", False):
        return False
    inner = getattr(model, "model", None)
    return inner is not None and hasattr(inner, "layers") and hasattr(inner, "rotary_emb")


@dataclass
class _Layer:
    norm1: torch.Tensor
    wqkv: torch.Tensor
    bqkv: torch.Tensor | None
    wo: torch.Tensor
    norm2: torch.Tensor
    wgu: torch.Tensor
    wd: torch.Tensor
    #: LoRA-wrapped projections of this layer (see :mod:`.lora`), by name; empty without adapters
    lora: dict[str, Any] = field(default_factory=dict)


class KVBuffers:
    """Per-layer buffers, ``length`` slots used: keys ``[batch, kv_heads, head_dim, capacity]``
    (transposed, so the score product reads them in place) and values
    ``[batch, kv_heads, capacity, head_dim]``."""

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], length: int) -> None:
        self.keys = keys
        self.values = values
        self.length = length

    @classmethod
    def from_cache(cls, cache: Any, capacity: int) -> KVBuffers:
        """Copy a transformers cache (after prefill) into buffers with room for ``capacity`` slots."""
        keys, values = [], []
        length = 0
        for layer in cache.layers:
            k, v = layer.keys, layer.values
            length = k.shape[-2]
            b, h, _, d = k.shape
            kb = k.new_empty((b, h, d, max(capacity, length)))
            vb = v.new_empty((b, h, max(capacity, length), v.shape[-1]))
            kb[:, :, :, :length] = k.transpose(-1, -2)
            vb[:, :, :length] = v
            keys.append(kb)
            values.append(vb)
        return cls(keys, values, length)

    def select(self, rows: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor | None:
        """Keep only these batch rows (finished rows leave the batch).

        :param mask: the kept rows' ``[len(rows), length]`` attention mask; when given, leading
            slots that no kept row attends to are dropped too (so a batch that requests keep
            joining does not grow without bound) and the trimmed mask is returned.
        """
        start = 0
        if mask is not None:
            seen = mask.any(0).nonzero()
            start = int(seen[0]) if len(seen) else self.length
        n = self.length
        for i in range(len(self.keys)):
            k, v = self.keys[i], self.values[i]
            kb = k.new_empty((len(rows), *k.shape[1:]))
            vb = v.new_empty((len(rows), *v.shape[1:]))
            kb[:, :, :, : n - start] = k[rows, :, :, start:n]
            vb[:, :, : n - start] = v[rows, :, start:n]
            self.keys[i], self.values[i] = kb, vb
        self.length = n - start
        return None if mask is None else mask[:, start:]

    def extend(self, cache: Any, new_mask: torch.Tensor, mask: torch.Tensor, new_tokens: int) -> torch.Tensor:
        """Add the rows of a prefilled ``cache`` (``new_mask`` ``[n, P]`` bool: their prompt slots)
        to the batch, whose mask is ``mask`` ``[B, length]``; returns the ``[B + n, L]`` mask.

        Rows stay right-aligned on a common slot (``L = max(length, P)``): the shorter side is
        left-padded with zeroed, masked slots. Room is made for ``new_tokens`` more tokens.
        """
        length, width = self.length, int(new_mask.shape[1])
        total = max(length, width)
        b, n = int(mask.shape[0]), int(new_mask.shape[0])
        for i, layer in enumerate(cache.layers):
            k, v = self.keys[i], self.values[i]
            nk, nv = layer.keys, layer.values  # [n, kv_heads, P, head_dim]
            kb = k.new_zeros((b + n, k.shape[1], k.shape[2], total + new_tokens))
            vb = v.new_zeros((b + n, v.shape[1], total + new_tokens, v.shape[3]))
            kb[:b, :, :, total - length : total] = k[:, :, :, :length]
            vb[:b, :, total - length : total] = v[:, :, :length]
            kb[b:, :, :, total - width : total] = nk.transpose(-1, -2)
            vb[b:, :, total - width : total] = nv
            self.keys[i], self.values[i] = kb, vb
        merged = torch.zeros((b + n, total), dtype=torch.bool, device=mask.device)
        merged[:b, total - length :] = mask
        merged[b:, total - width :] = new_mask
        self.length = total
        return merged


class FastDecoder:
    """One-token decode steps over :class:`KVBuffers` with the weights of ``model``."""

    def __init__(self, model: Any) -> None:
        if not supports(model):
            raise ValueError(f"FastDecoder does not support model type {model.config.model_type!r}")
        self.model = model
        cfg = model.config
        self.heads = int(cfg.num_attention_heads)
        self.kv_heads = int(getattr(cfg, "num_key_value_heads", None) or self.heads)
        self.head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads)
        self.eps = float(cfg.rms_norm_eps)
        self.scale = self.head_dim**-0.5
        self.layers: list[_Layer] = []
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        """Rebuild the fused weights from the model's current parameters (after a weight swap)."""
        inner = self.model.model
        layers = []
        for layer in inner.layers:
            att, mlp = layer.self_attn, layer.mlp
            biases = [att.q_proj.bias, att.k_proj.bias, att.v_proj.bias]
            layers.append(
                _Layer(
                    norm1=layer.input_layernorm.weight,
                    wqkv=torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]).contiguous(),
                    bqkv=torch.cat(biases).contiguous() if all(b is not None for b in biases) else None,
                    wo=att.o_proj.weight,
                    norm2=layer.post_attention_layernorm.weight,
                    wgu=torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).contiguous(),
                    wd=mlp.down_proj.weight,
                    lora=_lora_modules(att, mlp),
                )
            )
        self.layers = layers
        self.embed = inner.embed_tokens.weight
        self.final_norm = inner.norm.weight
        self.head = self.model.lm_head.weight

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * xf.to(x.dtype)

    @torch.inference_mode()
    def step(
        self, tokens: torch.Tensor, positions: torch.Tensor, kv: KVBuffers, attend: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``[B, vocab]`` (float32) of the token after ``tokens`` ``[B]``.

        :param positions: each row's RoPE position of ``tokens`` ``[B]``.
        :param attend: ``[B, kv.length + 1]`` bool, which cache slots (and the new one) a row sees.
        """
        b = tokens.shape[0]
        h, kvh, d = self.heads, self.kv_heads, self.head_dim
        slot = kv.length
        if slot >= kv.values[0].shape[2]:
            raise RuntimeError("KV buffers are full: allocate them with room for max_new_tokens")
        x = F.embedding(tokens, self.embed)  # [B, H*?]
        cos, sin = self.model.model.rotary_emb(x, positions[:, None])  # [B, 1, D]
        cos, sin = cos[:, None], sin[:, None]  # [B, 1, 1, D]
        # additive mask [B, 1, 1, L] in float32 (scores are computed in float32)
        bias = torch.zeros(attend.shape, dtype=torch.float32).masked_fill_(~attend, float("-inf"))[
            :, None, None, :
        ]
        q_end, k_end = h * d, (h + kvh) * d
        for i, layer in enumerate(self.layers):
            y = self._norm(x, layer.norm1)
            qkv = F.linear(y, layer.wqkv, layer.bqkv)
            if layer.lora:
                _add_lora(qkv, layer.lora, ("q", "k", "v"), y)
            q = qkv[:, :q_end].view(b, h, 1, d)
            k = qkv[:, q_end:k_end].view(b, kvh, 1, d)
            v = qkv[:, k_end:].view(b, kvh, 1, d)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            keys, values = kv.keys[i], kv.values[i]
            keys[:, :, :, slot] = k[:, :, 0]
            values[:, :, slot] = v[:, :, 0]
            # one query per row: two small batched products beat the fused CPU attention kernel,
            # which was a third of the step (measured)
            att = _decode_attention(q, keys[..., : slot + 1], values[:, :, : slot + 1], bias, self.scale)
            flat = att.reshape(b, h * d)
            out = F.linear(flat, layer.wo)
            if layer.lora:
                _add_lora(out, layer.lora, ("o",), flat)
            x = x + out
            y = self._norm(x, layer.norm2)
            gu = F.linear(y, layer.wgu)
            if layer.lora:
                _add_lora(gu, layer.lora, ("gate", "up"), y)
            gate, up = gu.chunk(2, dim=-1)
            act = F.silu(gate) * up
            down = F.linear(act, layer.wd)
            if layer.lora:
                _add_lora(down, layer.lora, ("down",), act)
            x = x + down
        kv.length = slot + 1
        return F.linear(self._norm(x, self.final_norm), self.head).float()


def _lora_modules(att: Any, mlp: Any) -> dict[str, Any]:
    """Every projection of a layer by short name when any of them carries LoRA adapters (a plain
    ``nn.Linear`` among them gets :func:`_no_delta`), else nothing: the plain path stays as fast."""
    modules = {
        "q": att.q_proj,
        "k": att.k_proj,
        "v": att.v_proj,
        "o": att.o_proj,
        "gate": mlp.gate_proj,
        "up": mlp.up_proj,
        "down": mlp.down_proj,
    }
    if not any(hasattr(m, "delta") for m in modules.values()):
        return {}
    return {name: m if hasattr(m, "delta") else _NoDelta(m) for name, m in modules.items()}


class _NoDelta:
    """A plain projection seen through the LoRA interface: same width, no delta."""

    def __init__(self, module: Any) -> None:
        self.weight = module.weight

    def delta(self, x: torch.Tensor) -> None:
        return None


def _add_lora(out: torch.Tensor, lora: dict[str, Any], names: tuple[str, ...], x: torch.Tensor) -> None:
    """Add, in place, the per-row LoRA deltas of the projections ``names`` (fused into ``out`` in
    this order, each ``weight.shape[0]`` wide) for the input ``x`` ``[B, in]``."""
    start = 0
    for name in names:
        module = lora.get(name)
        if module is None:
            raise RuntimeError(f"_add_lora: the fused projections {names} must all be listed in lora")
        width = int(module.weight.shape[0])
        d = module.delta(x)
        if d is not None:
            out[:, start : start + width] += d
        start += width


def _decode_attention(
    q: torch.Tensor, keys_t: torch.Tensor, values: torch.Tensor, bias: torch.Tensor, scale: float
) -> torch.Tensor:
    """Attention of one query per row; ``q`` ``[B, H, 1, D]``, ``keys_t`` ``[B, KV, D, L]``,
    ``values`` ``[B, KV, L, D]``.

    The ``H // KV`` query heads that share a key/value head are stacked as rows of one product,
    so grouped-query attention needs no copy of the keys.
    """
    b, h, _, d = q.shape
    kvh = keys_t.shape[1]
    qg = q.reshape(b, kvh, h // kvh, d)
    scores = torch.matmul(qg, keys_t).float() * scale + bias
    probs = torch.softmax(scores, dim=-1).to(values.dtype)
    return torch.matmul(probs, values)  # [B, KV, H//KV, D] == [B, H, D] in memory


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
