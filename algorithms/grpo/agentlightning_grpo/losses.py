"""The GRPO maths, on plain tensors: group-relative advantages, the clipped policy loss, the KL
estimate. Kept apart from models and data so each formula is checked on hand-computed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

LossAggregation = Literal["token_mean", "seq_mean"]


def group_advantages(
    rewards: Sequence[float], groups: Sequence[int], scale: bool = True, eps: float = 1e-6
) -> list[float]:
    """``A_i = (r_i - mean(r_group)) / (std(r_group) + eps)``, or ``r_i - mean(r_group)`` when
    ``scale`` is false (Dr. GRPO's unbiased variant). ``std`` is the sample standard deviation
    (as TRL computes it), so a group of two with rewards 0 and 1 gets -0.707 and +0.707. A group
    whose rewards are all equal carries no signal: its advantages are 0.
    """
    if len(rewards) != len(groups):
        raise ValueError(f"rewards ({len(rewards)}) and groups ({len(groups)}) must have the same length")
    by_group: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    out = [0.0] * len(rewards)
    for members in by_group.values():
        values = torch.tensor([float(rewards[i]) for i in members], dtype=torch.float64)
        mean = values.mean()
        centred = values - mean
        if scale:
            std = values.std() if len(members) > 1 else torch.tensor(0.0, dtype=torch.float64)
            centred = centred / (std + eps)
        for i, a in zip(members, centred.tolist(), strict=True):
            out[i] = float(a)
    return out


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token estimate of KL(policy || reference), Schulman's k3: ``exp(d) - d - 1`` with
    ``d = ref_logp - logp``; non-negative and unbiased for tokens sampled from the policy."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1.0


@dataclass
class LossParts:
    loss: torch.Tensor
    policy_loss: torch.Tensor
    kl: torch.Tensor
    clip_fraction: torch.Tensor
    ratio_mean: torch.Tensor


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    beta: float = 0.0,
    ref_logp: torch.Tensor | None = None,
    aggregation: LossAggregation = "token_mean",
    normalizer: float | None = None,
) -> LossParts:
    """Clipped surrogate ``-min(ρA, clip(ρ, 1-ε_low, 1+ε_high)A) + β·KL`` per token, aggregated.

    :param logp: ``[B, T]`` log-probs of the sampled tokens under the policy being trained.
    :param old_logp: ``[B, T]`` log-probs under the policy that sampled them (detached).
    :param advantages: ``[B]`` one advantage per sequence.
    :param mask: ``[B, T]`` 1 for completion tokens, 0 for padding.
    :param aggregation: ``token_mean`` averages over all tokens of the batch (DAPO; long answers
        weigh by their length), ``seq_mean`` averages per sequence then over sequences (GRPO paper).
    :param normalizer: for gradient accumulation, the total token count (``token_mean``) or
        sequence count (``seq_mean``) of the whole step, so micro-batch losses add up to the
        full-batch loss; default: this batch's own count.
    """
    mask = mask.to(logp.dtype)
    ratio = torch.exp(logp - old_logp)
    adv = advantages.to(logp.dtype)[:, None]
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * adv
    per_token = -torch.minimum(unclipped, clipped)
    kl = torch.zeros_like(logp)
    if beta > 0.0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp (log-probs under the reference model)")
        kl = kl_k3(logp, ref_logp)
        per_token = per_token + beta * kl
    was_clipped = ((ratio < 1.0 - clip_low) & (adv < 0)) | ((ratio > 1.0 + clip_high) & (adv > 0))
    if aggregation == "token_mean":
        denom = float(normalizer) if normalizer is not None else float(mask.sum().clamp(min=1.0))
        loss = (per_token * mask).sum() / denom
    elif aggregation == "seq_mean":
        seq = (per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        denom = float(normalizer) if normalizer is not None else float(max(seq.shape[0], 1))
        loss = seq.sum() / denom
    else:
        raise ValueError(f"aggregation must be 'token_mean' or 'seq_mean', got {aggregation!r}")
    n_tokens = mask.sum().clamp(min=1.0)
    with torch.no_grad():
        return LossParts(
            loss=loss,
            policy_loss=((-torch.minimum(unclipped, clipped)) * mask).sum() / n_tokens,
            kl=(kl * mask).sum() / n_tokens,
            clip_fraction=(was_clipped.to(mask.dtype) * mask).sum() / n_tokens,
            ratio_mean=(ratio * mask).sum() / n_tokens,
        )


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``log softmax(logits / T)[target]`` without materialising the full log-softmax twice."""
    if temperature != 1.0 and temperature > 0:
        logits = logits / temperature
    logits = logits.float()
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def returns_to_go(rewards: Sequence[float], gamma: float) -> list[float]:
    """``G_t = r_t + γ·G_{t+1}`` over one rollout's calls, last call first; ``γ = 0`` leaves each
    call its own reward, ``γ = 1`` gives every call the sum of the rewards from it on."""
    out = [0.0] * len(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = float(rewards[t]) + gamma * running
        out[t] = running
    return out


def position_advantages(
    returns: Sequence[Sequence[float]], groups: Sequence[int], scale: bool = True, eps: float = 1e-6
) -> list[list[float]]:
    """Group-relative advantages of per-call returns, normalised per step position.

    ``returns[i][t]`` is the return of call ``t`` of rollout ``i``. Call ``t`` is compared with
    call ``t`` of the other rollouts of its group: ``A = (G - mean_t) / (std_t + eps)`` (sample
    std; ``G - mean_t`` when ``scale`` is false), the statistics taken over the group's rollouts
    that made a call ``t``. Where fewer than two rollouts of the group reach position ``t`` there
    is nothing to compare with at that position, and the statistics of all the group's calls (every
    position) are used instead. A comparison set whose returns are all equal gives 0.
    """
    if len(returns) != len(groups):
        raise ValueError(f"returns ({len(returns)}) and groups ({len(groups)}) must have the same length")
    by_group: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    out = [[0.0] * len(r) for r in returns]

    def normalise(values: list[float], pool: list[float]) -> list[float]:
        ref = torch.tensor(pool, dtype=torch.float64)
        x = torch.tensor(values, dtype=torch.float64)
        centred = x - ref.mean()
        if scale:
            std = ref.std() if len(pool) > 1 else torch.tensor(0.0, dtype=torch.float64)
            centred = centred / (std + eps)
        if float(ref.max() - ref.min()) == 0.0:
            return [0.0] * len(values)
        return [float(a) for a in centred.tolist()]

    for members in by_group.values():
        pooled = [float(g) for i in members for g in returns[i]]
        if not pooled:
            continue
        longest = max(len(returns[i]) for i in members)
        for t in range(longest):
            reach = [i for i in members if len(returns[i]) > t]
            values = [float(returns[i][t]) for i in reach]
            pool = values if len(reach) >= 2 else pooled
            for i, a in zip(reach, normalise(values, pool), strict=True):
                out[i][t] = a
    return out
