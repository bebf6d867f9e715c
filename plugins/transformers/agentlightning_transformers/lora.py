"""LoRA adapters served on top of the base weights, several at once, chosen per batch row.

Each adapted linear layer of the served model is wrapped in a :class:`MultiLoRALinear` that holds
every loaded adapter's ``A`` and ``B`` matrices stacked along a leading slot axis (slot 0 is the
base model: zeros). A batch row names its slot (:class:`RowAdapters`, set before every forward
by the generation loop), and the delta ``scale·B·A·x`` is computed for all rows together with two
batched matrix products over the gathered per-row matrices: one base forward for the batch, the
LoRA delta applied per row, no loop over adapters. Rows of the base model gather zeros.

An adapter update copies only that adapter's ``A``/``B`` into its slot; the base weights are
never written, so swapping an adapter costs a few MB, not the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class RowAdapters:
    """The slot of each row of the batch being computed (``None``: every row is the base model)."""

    rows: torch.Tensor | None = None
    #: the one slot every row uses, when they all use the same adapter (no per-row gather then)
    single: int | None = None

    def set(self, slots: Sequence[int] | None, device: torch.device) -> None:
        if slots is None or not any(slots):
            self.rows, self.single = None, None
        else:
            self.rows = torch.tensor(list(slots), dtype=torch.long, device=device)
            self.single = slots[0] if all(s == slots[0] for s in slots) else None


class MultiLoRALinear(nn.Module):
    """``base(x) + scale[slot]·(x @ A[slot]ᵀ) @ B[slot]ᵀ`` with ``slot`` chosen per row of ``x``."""

    lora_a: torch.Tensor
    lora_b: torch.Tensor
    scale: torch.Tensor

    def __init__(self, base: nn.Linear, state: RowAdapters) -> None:
        super().__init__()
        self.base = base
        self.state = state
        dtype, device = base.weight.dtype, base.weight.device
        self.rank = 0
        # [slots, r, in], [slots, out, r], [slots]
        # not persistent: the served model's state_dict keeps the plain model's names and tensors
        self.register_buffer(
            "lora_a", torch.zeros((1, 0, base.in_features), dtype=dtype, device=device), persistent=False
        )
        self.register_buffer(
            "lora_b", torch.zeros((1, base.out_features, 0), dtype=dtype, device=device), persistent=False
        )
        self.register_buffer("scale", torch.zeros(1, dtype=dtype, device=device), persistent=False)

    # the fast decoder and the weight swap read these as they would a plain nn.Linear's
    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base.bias

    @torch.no_grad()
    def ensure_slots(self, slots: int, rank: int) -> None:
        """Grow the stacks to ``slots`` slots of rank at least ``rank`` (new room is zeros)."""
        have_slots, have_rank = self.lora_a.shape[0], self.lora_a.shape[1]
        if slots <= have_slots and rank <= have_rank:
            return
        s, r = max(slots, have_slots), max(rank, have_rank)
        a = self.lora_a.new_zeros((s, r, self.base.in_features))
        b = self.lora_b.new_zeros((s, self.base.out_features, r))
        a[:have_slots, :have_rank] = self.lora_a
        b[:have_slots, :, :have_rank] = self.lora_b
        scale = self.scale.new_zeros(s)
        scale[:have_slots] = self.scale
        self.lora_a, self.lora_b, self.scale = a, b, scale

    @torch.no_grad()
    def load(self, slot: int, a: torch.Tensor, b: torch.Tensor, scale: float) -> None:
        """Copy one adapter's ``A`` ``[r, in]`` and ``B`` ``[out, r]`` into ``slot``."""
        r = a.shape[0]
        if a.shape[1] != self.base.in_features or tuple(b.shape) != (self.base.out_features, r):
            raise ValueError(
                f"LoRA matrices of shapes A {tuple(a.shape)}, B {tuple(b.shape)} do not fit a "
                f"{self.base.in_features} -> {self.base.out_features} layer"
            )
        self.ensure_slots(slot + 1, r)
        self.lora_a[slot].zero_()
        self.lora_b[slot].zero_()
        self.lora_a[slot, :r] = a.to(self.lora_a.dtype)
        self.lora_b[slot, :, :r] = b.to(self.lora_b.dtype)
        self.scale[slot] = scale

    def delta(self, x: torch.Tensor) -> torch.Tensor | None:
        """The per-row LoRA term for ``x`` ``[B, ..., in]``, or ``None`` when no row has one."""
        rows = self.state.rows
        if rows is None:
            return None
        single = self.state.single
        if single is not None:  # one adapter for the whole batch: two plain matrix products
            h = F.linear(x.to(self.lora_a.dtype), self.lora_a[single])
            return (F.linear(h, self.lora_b[single]) * self.scale[single]).to(x.dtype)
        a = self.lora_a[rows]  # [B, r, in]
        b = self.lora_b[rows]  # [B, out, r]
        flat = x.reshape(x.shape[0], -1, x.shape[-1]).to(a.dtype)  # [B, T, in]
        h = torch.bmm(flat, a.transpose(1, 2))  # [B, T, r]
        out = torch.bmm(h, b.transpose(1, 2)) * self.scale[rows][:, None, None]  # [B, T, out]
        return out.reshape(*x.shape[:-1], out.shape[-1]).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        d = self.delta(x)
        return y if d is None else y + d


@dataclass
class AdapterTable:
    """Which adapters the engine serves: name -> slot and version, and the wrapped layers."""

    state: RowAdapters = field(default_factory=RowAdapters)
    slots: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    layers: dict[str, MultiLoRALinear] = field(default_factory=dict)

    def plain_names(self, state: dict[str, Any]) -> dict[str, Any]:
        """``state`` (the served model's ``state_dict``) with the wrapped layers' parameters also
        under their plain-model names (``...q_proj.weight`` for ``...q_proj.base.weight``)."""
        out = dict(state)
        for path in self.layers:
            for leaf in ("weight", "bias"):
                key = f"{path}.base.{leaf}"
                if key in out:
                    out[f"{path}.{leaf}"] = out.pop(key)
        return out

    def slot_of(self, name: str | None) -> int:
        return self.slots.get(name, 0) if name is not None else 0

    def load(
        self, model: nn.Module, name: str, modules: Mapping[str, tuple[Any, Any]], scaling: float
    ) -> int:
        """Wrap the named layers (first time) and copy the adapter in; returns its slot.

        :raises KeyError: a module name the model does not have, or that is not a linear layer.
        """
        named = dict(model.named_modules())
        bad = [p for p in modules if p not in self.layers and not isinstance(named.get(p), nn.Linear)]
        if bad:  # checked before anything is wrapped: a refused adapter changes nothing
            linear = {n.removesuffix(".base") for n, m in named.items() if isinstance(m, nn.Linear)}
            raise KeyError(
                f"adapter {name!r}: {bad[:3]} are not linear layers of the served model; its linear layers "
                f"are named {sorted({n.rsplit('.', 1)[-1] for n in linear})}, e.g. {sorted(linear)[:2]}"
            )
        for path in modules:
            if path not in self.layers:
                parent_path, _, attr = path.rpartition(".")
                wrapper = MultiLoRALinear(named[path], self.state)
                setattr(named[parent_path] if parent_path else model, attr, wrapper)
                self.layers[path] = wrapper
        slot = self.slots.setdefault(name, len(self.slots) + 1)
        for path, layer in self.layers.items():
            if path in modules:
                a, b = modules[path]
                layer.load(slot, torch.as_tensor(a), torch.as_tensor(b), scaling)
            else:  # an adapter that leaves this layer alone: zero delta in its slot
                layer.ensure_slots(slot + 1, 0)
                with torch.no_grad():
                    layer.lora_a[slot].zero_()
                    layer.lora_b[slot].zero_()
        return slot
