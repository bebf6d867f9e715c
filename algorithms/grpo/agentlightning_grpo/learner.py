"""The policy being trained: log-probs with a shared prompt prefill, the GRPO step, weight export.

Speed on a CPU comes from computing less, never from approximating the gradient:

* a prompt shared by several samples (a GRPO group) is run once, and so is the prefix that all
  prompts share (the system prompt and tool list); their KV caches are copied per sample *inside*
  the autograd graph, so gradients still flow through the prompt's keys/values;
* the LM head (49k × 576 for SmolLM2) runs only on completion positions, not on the prompt;
* with ``beta == 0``, samples whose advantage is exactly 0 contribute nothing to the gradient,
  so they are skipped (the loss normaliser still counts them, so the gradient is unchanged).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from agentlightning_transformers.generate import shared_prefix_len
from agentlightning_transformers.precision import native_bf16

from .config import GRPOConfig
from .losses import policy_loss, token_logprobs

log = logging.getLogger(__name__)


@dataclass
class Sample:
    """One LLM call to learn from: its token ids and the advantage of its rollout."""

    prompt_ids: list[int]
    response_ids: list[int]
    advantage: float
    group: int = 0


@dataclass
class StepStats:
    loss: float = 0.0
    policy_loss: float = 0.0
    kl: float = 0.0
    clip_fraction: float = 0.0
    ratio_mean: float = 1.0
    grad_norm: float = 0.0
    tokens: int = 0
    trained_samples: int = 0
    seconds: float = 0.0


def _adamw(params: list[torch.nn.Parameter], config: GRPOConfig) -> torch.optim.Optimizer:
    """AdamW with the fused kernel where torch has one for these tensors: one pass over each
    parameter instead of several (measured on 2 CPU cores, 135M parameters: 0.31 s -> 0.14 s)."""
    kwargs: dict[str, Any] = {
        "lr": config.learning_rate,
        "betas": (0.9, 0.99),
        "weight_decay": config.weight_decay,
    }
    try:
        return torch.optim.AdamW(params, fused=True, **kwargs)
    except (RuntimeError, ValueError, TypeError):  # a device or dtype without the fused kernel
        return torch.optim.AdamW(params, **kwargs)


def _cache_kwarg(model: Any) -> str:
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class Learner:
    """Holds the trainable copy of the model, its optimizer and (when ``beta > 0``) the reference."""

    def __init__(self, model_path: str | Path, config: GRPOConfig, device: str = "cpu") -> None:
        from transformers import AutoModelForCausalLM

        self.config = config
        self.device = torch.device(device)
        base: Any = AutoModelForCausalLM.from_pretrained(
            str(model_path), dtype=torch.float32, local_files_only=True
        )
        base.to(self.device)
        base.config.use_cache = True
        self.lora = config.lora_rank is not None
        self.ref: Any = None
        if self.lora:
            from peft import LoraConfig, get_peft_model

            peft_config = LoraConfig(
                r=int(config.lora_rank or 8),
                lora_alpha=int(config.lora_alpha or 2 * (config.lora_rank or 8)),
                target_modules=list(config.lora_targets),
                lora_dropout=0.0,
                bias="none",
                task_type="CAUSAL_LM",
            )
            self.model: Any = get_peft_model(base, peft_config)
            self.causal_lm: Any = self.model.base_model.model
        else:
            self.model = base
            self.causal_lm = base
            if config.beta > 0:
                ref: Any = AutoModelForCausalLM.from_pretrained(
                    str(model_path), dtype=torch.float32, local_files_only=True
                )
                self.ref = ref.to(self.device)
                self.ref.eval().requires_grad_(False)
        self.model.train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = _adamw(self.params, config)
        self._cache_kw = _cache_kwarg(self.causal_lm.model)
        use_bf16 = config.precision == "bf16" or (config.precision == "auto" and native_bf16(self.device))
        #: bf16 autocast halves the cost of every matrix product on hardware with native bf16
        #: (measured: 8.3 s -> 3.9 s for 8 x 96 tokens on 2 AVX-512-BF16 cores); weights, grads,
        #: AdamW state and the log-softmax stay float32
        self.autocast_dtype: torch.dtype | None = torch.bfloat16 if use_bf16 else None

    def _autocast(self) -> AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    # ------------------------------------------------------------ log-probs
    def _backbone(self, which: str) -> tuple[Any, Any, AbstractContextManager[Any]]:
        if which == "ref":
            if self.lora:
                return self.causal_lm.model, self.causal_lm.lm_head, self.model.disable_adapter()
            return self.ref.model, self.ref.lm_head, nullcontext()
        return self.causal_lm.model, self.causal_lm.lm_head, nullcontext()

    def logprobs(self, samples: Sequence[Sample], which: str = "policy") -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, T]`` log-probs of each sample's completion tokens (T = longest completion) and
        the ``[B, T]`` mask of real tokens. Prompts shared by several samples run once."""
        from transformers import DynamicCache

        backbone, head, ctx = self._backbone(which)
        dev = self.device
        unique: dict[tuple[int, ...], int] = {}
        rows = [unique.setdefault(tuple(s.prompt_ids), len(unique)) for s in samples]
        prompts = list(unique)
        shared = shared_prefix_len(prompts) if len(prompts) > 1 else 0
        suffixes = [p[shared:] for p in prompts]
        width = max(len(p) for p in suffixes)
        p_ids = torch.zeros((len(prompts), width), dtype=torch.long)
        p_mask = torch.zeros((len(prompts), shared + width), dtype=torch.long)
        p_mask[:, :shared] = 1
        for i, p in enumerate(suffixes):
            p_ids[i, width - len(p) :] = torch.tensor(p)
            p_mask[i, shared + width - len(p) :] = 1
        p_pos = (p_mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
        lengths = [len(s.response_ids) for s in samples]
        t_max = max(lengths)
        r_ids = torch.zeros((len(samples), t_max), dtype=torch.long)
        r_mask = torch.zeros((len(samples), t_max), dtype=torch.bool)
        for i, s in enumerate(samples):
            r_ids[i, : len(s.response_ids)] = torch.tensor(s.response_ids)
            r_mask[i, : len(s.response_ids)] = True
        index = torch.tensor(rows, dtype=torch.long)
        with ctx, self._autocast():
            cache = DynamicCache()
            if shared:  # the system prompt every prompt starts with: once, inside the graph
                backbone(
                    input_ids=torch.tensor([prompts[0][:shared]], device=dev),
                    position_ids=torch.arange(shared, device=dev)[None, :],
                    use_cache=True,
                    **{self._cache_kw: cache},
                )
                cache.batch_repeat_interleave(len(prompts))
            out = backbone(
                input_ids=p_ids.to(dev),
                attention_mask=p_mask.to(dev),
                position_ids=p_pos.to(dev),
                use_cache=True,
                **{self._cache_kw: cache},
            )
            last = out.last_hidden_state[:, -1, :][index.to(dev)]  # predicts completion token 0
            if t_max > 1:
                if len(prompts) != len(samples) or rows != list(range(len(samples))):
                    cache.batch_select_indices(index.to(dev))
                row_mask = p_mask[index]
                start = row_mask.sum(-1, keepdim=True)
                inputs = r_ids[:, :-1]
                attn = torch.cat([row_mask, torch.ones_like(inputs)], dim=-1)
                pos = start + torch.arange(t_max - 1)[None, :]
                hidden = backbone(
                    input_ids=inputs.to(dev),
                    attention_mask=attn.to(dev),
                    position_ids=pos.to(dev),
                    use_cache=True,
                    **{self._cache_kw: cache},
                ).last_hidden_state
                states = torch.cat([last[:, None, :], hidden], dim=1)
            else:
                states = last[:, None, :]
            mask_dev = r_mask.to(dev)
            picked = states[mask_dev]  # [N_tokens, H]: only real completion positions
            logits = head(picked)
            lp = token_logprobs(logits, r_ids.to(dev)[mask_dev], self.config.temperature)
        full = torch.zeros((len(samples), t_max), dtype=lp.dtype, device=dev)
        full = full.masked_scatter(mask_dev, lp)
        return full, mask_dev

    # ---------------------------------------------------------------- step
    def _micro_batches(self, samples: Sequence[Sample]) -> Iterator[list[Sample]]:
        """Keep samples of the same prompt together (one prefill), at most ``micro_batch_size``."""
        order = sorted(range(len(samples)), key=lambda i: (samples[i].prompt_ids, i))
        size = self.config.micro_batch_size
        batch: list[Sample] = []
        for i in order:
            batch.append(samples[i])
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def train_step(self, samples: Sequence[Sample], learning_rate: float | None = None) -> StepStats:
        """One optimizer step (``num_iterations`` passes) on these samples, at ``learning_rate``
        (default: the configured one; the algorithm passes its schedule's value)."""
        cfg = self.config
        if learning_rate is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate
        started = time.perf_counter()
        stats = StepStats(tokens=sum(len(s.response_ids) for s in samples))
        usable = [s for s in samples if s.response_ids and s.prompt_ids]
        if cfg.beta == 0.0:
            usable = [s for s in usable if s.advantage != 0.0]
        stats.trained_samples = len(usable)
        if not usable:
            stats.seconds = time.perf_counter() - started
            return stats
        normalizer = float(stats.tokens) if cfg.loss_aggregation == "token_mean" else float(len(samples))
        batches = list(self._micro_batches(usable))
        olds: list[torch.Tensor | None] = [None] * len(batches)
        refs: list[torch.Tensor | None] = [None] * len(batches)
        with torch.no_grad():
            for b, mb in enumerate(batches):
                if cfg.num_iterations > 1:
                    olds[b] = self.logprobs(mb)[0]
                if cfg.beta > 0:
                    refs[b] = self.logprobs(mb, which="ref")[0]
        totals = {"loss": 0.0, "policy_loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "ratio_mean": 0.0}
        weight_sum = 0.0
        for _ in range(cfg.num_iterations):
            for b, mb in enumerate(batches):
                logp, mask = self.logprobs(mb)
                stored = olds[b]
                old = stored if stored is not None else logp.detach()
                adv = torch.tensor([s.advantage for s in mb], dtype=logp.dtype, device=logp.device)
                parts = policy_loss(
                    logp,
                    old,
                    adv,
                    mask,
                    clip_low=cfg.clip_low,
                    clip_high=cfg.clip_high,
                    beta=cfg.beta,
                    ref_logp=refs[b],
                    aggregation=cfg.loss_aggregation,
                    normalizer=normalizer,
                )
                parts.loss.backward()
                n = float(mask.sum())
                weight_sum += n
                totals["loss"] += float(parts.loss.detach())
                for key in ("policy_loss", "kl", "clip_fraction", "ratio_mean"):
                    totals[key] += float(getattr(parts, key)) * n
            norm = self._clip_and_step()
            stats.grad_norm = norm
        iters = cfg.num_iterations
        stats.loss = totals["loss"] / iters
        for key in ("policy_loss", "kl", "clip_fraction", "ratio_mean"):
            setattr(stats, key, totals[key] / max(weight_sum, 1.0))
        stats.seconds = time.perf_counter() - started
        return stats

    def _clip_and_step(self) -> float:
        if self.config.max_grad_norm is not None:
            norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm))
        else:
            norm = float(
                torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in self.params if p.grad is not None))
            )
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return norm

    # -------------------------------------------------------------- weights
    @torch.no_grad()
    def export_weights(self) -> dict[str, torch.Tensor]:
        """Weights for the inference engine, named as in the plain model's ``state_dict``.

        Full fine-tuning: every trainable parameter. LoRA: each adapted layer's merged weight
        ``W + scale·B·A`` (the engine serves a plain model, so it pays nothing for LoRA).
        """
        if not self.lora:
            return {name: p.detach() for name, p in self.causal_lm.named_parameters() if p.requires_grad}
        out: dict[str, torch.Tensor] = {}
        for name, module in self.causal_lm.named_modules():
            if hasattr(module, "base_layer") and hasattr(module, "get_delta_weight"):
                weight = module.base_layer.weight
                delta = module.get_delta_weight("default")
                out[f"{name}.weight"] = (weight + delta).detach()
        return out

    # ---------------------------------------------------------- checkpoint
    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().cpu().contiguous() for n, p in self.model.named_parameters() if p.requires_grad}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        params = dict(self.model.named_parameters())
        missing = [n for n, p in params.items() if p.requires_grad and n not in state]
        if missing:
            raise ValueError(
                f"checkpoint lacks {len(missing)} trainable parameters (e.g. {missing[:2]}); it was written "
                "with another LoRA/full setting — resume with the same configuration"
            )
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value.to(params[name].device))
