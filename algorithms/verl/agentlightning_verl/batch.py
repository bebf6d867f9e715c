"""From recorded spans to VERL's ``DataProto``: every LLM call of every rollout is one sample.

The proxy stored each call with the token ids the engine (vLLM) returned, so nothing is
re-tokenised: a sample's prompt is exactly what the model read and its response exactly what it
sampled. Layout is the one VERL's agent loop produces (``verl.experimental.agent_loop``):

==================== ============================ ===============================================
key                  shape                        content
==================== ============================ ===============================================
``prompts``          [B, P]                       prompt ids, left-padded with the pad id
``responses``        [B, R]                       response ids, right-padded
``input_ids``        [B, P + R]                   ``cat(prompts, responses)``
``attention_mask``   [B, P + R]                   1 on real tokens
``position_ids``     [B, P + R]                   ``clip(cumsum(attention_mask) - 1, 0)``
``response_mask``    [B, R]                       1 on sampled tokens (every response token here)
``token_level_scores`` [B, R]                     the call's reward on its last response token
``rollout_log_probs`` [B, R]                      vLLM's log-probs (when every call has them)
``advantages``/``returns`` [B, R]                 rollout-level advantage on response tokens
==================== ============================ ===============================================

``non_tensor_batch``: ``uid`` (the task group: rollouts of one task share it, as VERL's GRPO
expects), ``rollout_id``, ``span_id``, ``agent_name``, ``call_index``, ``is_pad``. P and R are the
batch's longest prompt and response (capped at the configured maxima), not the maxima themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentlightning_core.algorithm import RolloutOutcome
from agentlightning_core.triplet import TraceToTriplet

from .config import VERLConfig

if TYPE_CHECKING:
    from verl import DataProto

log = logging.getLogger(__name__)


@dataclass
class CallSample:
    """One LLM call, ready to train on."""

    prompt_ids: list[int]
    response_ids: list[int]
    response_logprobs: list[float] | None
    reward: float
    uid: str
    rollout_id: str
    span_id: str
    agent_name: str | None
    call_index: int
    #: the rollout-level advantage (``advantage_level='rollout'``), else ``None``
    advantage: float | None = None


@dataclass
class SampleStats:
    """What happened to the rollouts of one step on the way to samples (logged as metrics)."""

    rollouts: int = 0
    failed_rollouts: int = 0
    calls: int = 0
    samples: int = 0
    dropped_no_tokens: int = 0
    dropped_overlong_prompt: int = 0
    truncated_prompts: int = 0
    truncated_responses: int = 0
    rollout_rewards: list[float] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        n = max(self.rollouts, 1)
        rewards = self.rollout_rewards or [0.0]
        return {
            "agl/rollouts": float(self.rollouts),
            "agl/failed_rollouts": float(self.failed_rollouts),
            "agl/calls_per_rollout": self.calls / n,
            "agl/samples": float(self.samples),
            "agl/dropped_no_tokens": float(self.dropped_no_tokens),
            "agl/dropped_overlong_prompt": float(self.dropped_overlong_prompt),
            "agl/truncated_prompts": float(self.truncated_prompts),
            "agl/truncated_responses": float(self.truncated_responses),
            "agl/reward_mean": sum(rewards) / len(rewards),
        }


def samples_from_outcomes(
    outcomes: Sequence[RolloutOutcome], groups: Sequence[str], config: VERLConfig
) -> tuple[list[CallSample], SampleStats]:
    """One :class:`CallSample` per recorded LLM call of the chosen agents.

    :param groups: the task group (``uid``) of each outcome; rollouts of one task share it.

    A failed rollout scores 0 (its calls are still trained, as VERL trains a failed generation);
    calls without token ids are dropped and counted (an agent that bypassed the proxy, or an
    engine that does not return ids).
    """
    if len(outcomes) != len(groups):
        raise ValueError(f"{len(outcomes)} outcomes but {len(groups)} group ids")
    transform = TraceToTriplet(agent_match=config.agent_match, reward_mode=config.reward_mode)
    stats = SampleStats(rollouts=len(outcomes))
    rollout_rewards = [o.reward if o.reward is not None else 0.0 for o in outcomes]
    stats.rollout_rewards = rollout_rewards
    advantages = (
        rollout_advantages(rollout_rewards, list(groups), config)
        if config.advantage_level == "rollout"
        else None
    )
    samples: list[CallSample] = []
    for i, (outcome, uid) in enumerate(zip(outcomes, groups, strict=True)):
        if not outcome.succeeded:
            stats.failed_rollouts += 1
        triplets = outcome.triplets(transform)
        stats.calls += len(triplets)
        for index, t in enumerate(triplets):
            if not t.has_tokens:
                stats.dropped_no_tokens += 1
                continue
            prompt = list(t.prompt_token_ids)
            if len(prompt) > config.max_prompt_length:
                if config.overlong_prompts == "drop":
                    stats.dropped_overlong_prompt += 1
                    continue
                prompt = prompt[-config.max_prompt_length :]
                stats.truncated_prompts += 1
            response = list(t.response_token_ids)
            logprobs = list(t.response_logprobs) if t.response_logprobs is not None else None
            if logprobs is not None and len(logprobs) != len(response):
                logprobs = None  # not aligned with the ids (e.g. a stream that lost chunks): unusable
            if len(response) > config.max_response_length:
                response = response[: config.max_response_length]
                logprobs = logprobs[: config.max_response_length] if logprobs is not None else None
                stats.truncated_responses += 1
            if config.reward_mode == "final":
                reward = rollout_rewards[i]
            else:
                reward = t.reward if t.reward is not None else 0.0
            samples.append(
                CallSample(
                    prompt_ids=prompt,
                    response_ids=response,
                    response_logprobs=logprobs,
                    reward=float(reward),
                    uid=uid,
                    rollout_id=t.rollout_id,
                    span_id=t.span_id,
                    agent_name=t.agent_name,
                    call_index=index,
                    advantage=advantages[i] if advantages is not None else None,
                )
            )
    stats.samples = len(samples)
    return samples, stats


def rollout_advantages(rewards: Sequence[float], groups: Sequence[str], config: VERLConfig) -> list[float]:
    """One advantage per rollout with VERL's own outcome estimator, each rollout counted once.

    VERL's estimators take token-level rewards and a group index; a rollout is fed as a
    one-token "response" carrying its reward, so a rollout that made five calls weighs as much
    in its group's mean and std as one that made one call.
    """
    import numpy as np
    import torch

    from .requirements import require_verl

    require_verl()
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn

    scores = torch.tensor([[float(r)] for r in rewards], dtype=torch.float32)
    mask = torch.ones_like(scores)
    index = np.array(list(groups), dtype=object)
    fn = get_adv_estimator_fn(config.adv_estimator)
    kwargs: dict[str, Any] = {"token_level_rewards": scores, "response_mask": mask, "index": index}
    if config.adv_estimator == "grpo":
        kwargs["norm_adv_by_std_in_grpo"] = True
    else:
        kwargs["config"] = AlgoConfig(adv_estimator=config.adv_estimator)
    advantages, _returns = fn(**kwargs)
    return [float(a) for a in advantages[:, 0].tolist()]


def build_batch(
    samples: Sequence[CallSample],
    *,
    pad_token_id: int,
    pad_to_multiple: int = 1,
    meta_info: dict[str, Any] | None = None,
) -> DataProto:
    """Stack samples into VERL's ``DataProto`` (layout in the module docstring).

    ``pad_to_multiple``: VERL splits a batch evenly over data-parallel ranks, so the batch is
    padded with copies of its first sample whose ``response_mask``, scores and advantages are
    zero (``is_pad``) — they add nothing to a token-mean loss.
    """
    import numpy as np
    import torch

    from .requirements import require_verl

    require_verl()
    from verl import DataProto
    from verl.utils.model import compute_position_id_with_mask

    if not samples:
        raise ValueError(
            "no LLM call with token ids was recorded in this step's rollouts: does the agent call the LLM "
            "resource's endpoint (the trainer's proxy), and does the engine return token ids?"
        )
    rows = list(samples)
    pads = (-len(rows)) % max(pad_to_multiple, 1)
    is_pad = [False] * len(rows) + [True] * pads
    rows += [rows[0]] * pads
    batch_size = len(rows)
    p_len = max(len(s.prompt_ids) for s in rows)
    r_len = max(len(s.response_ids) for s in rows)
    prompts = torch.full((batch_size, p_len), pad_token_id, dtype=torch.long)
    responses = torch.full((batch_size, r_len), pad_token_id, dtype=torch.long)
    prompt_mask = torch.zeros((batch_size, p_len), dtype=torch.long)
    response_attn = torch.zeros((batch_size, r_len), dtype=torch.long)
    scores = torch.zeros((batch_size, r_len), dtype=torch.float32)
    with_logprobs = all(s.response_logprobs is not None for s in rows)
    logprobs = torch.zeros((batch_size, r_len), dtype=torch.float32)
    for i, s in enumerate(rows):
        n_p, n_r = len(s.prompt_ids), len(s.response_ids)
        prompts[i, p_len - n_p :] = torch.tensor(s.prompt_ids, dtype=torch.long)
        prompt_mask[i, p_len - n_p :] = 1
        responses[i, :n_r] = torch.tensor(s.response_ids, dtype=torch.long)
        response_attn[i, :n_r] = 1
        if not is_pad[i]:
            scores[i, n_r - 1] = s.reward
        if with_logprobs and s.response_logprobs is not None:
            logprobs[i, :n_r] = torch.tensor(s.response_logprobs, dtype=torch.float32)
    response_mask = response_attn.clone()
    pad_rows = torch.tensor(is_pad, dtype=torch.bool)
    response_mask[pad_rows] = 0
    attention_mask = torch.cat([prompt_mask, response_attn], dim=1)
    tensors: dict[str, torch.Tensor] = {
        "prompts": prompts,
        "responses": responses,
        "input_ids": torch.cat([prompts, responses], dim=1),
        "attention_mask": attention_mask,
        "position_ids": compute_position_id_with_mask(attention_mask),
        "response_mask": response_mask,
        "token_level_scores": scores,
    }
    if with_logprobs:
        tensors["rollout_log_probs"] = logprobs * response_mask
    if all(s.advantage is not None for s in rows):
        adv = torch.tensor([float(s.advantage or 0.0) for s in rows], dtype=torch.float32)
        tensors["advantages"] = adv[:, None] * response_mask
        tensors["returns"] = tensors["advantages"].clone()
    non_tensor = {
        "uid": np.array([f"pad-{i}" if is_pad[i] else s.uid for i, s in enumerate(rows)], dtype=object),
        "rollout_id": np.array([s.rollout_id for s in rows], dtype=object),
        "span_id": np.array([s.span_id for s in rows], dtype=object),
        "agent_name": np.array([s.agent_name or "" for s in rows], dtype=object),
        "call_index": np.array([s.call_index for s in rows], dtype=np.int64),
        "is_pad": np.array(is_pad, dtype=bool),
    }
    info = {"global_token_num": attention_mask.sum(dim=-1).tolist(), **(meta_info or {})}
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensor, meta_info=info)


def call_level_advantages(batch: DataProto, config: VERLConfig, verl_config: Any = None) -> DataProto:
    """VERL's ``compute_advantage`` over calls (``advantage_level='call'``): GRPO/RLOO/... group
    by ``uid``, GAE (PPO) needs the critic's ``values`` in the batch."""
    from verl.trainer.ppo.ray_trainer import compute_advantage

    batch.batch["token_level_rewards"] = batch.batch["token_level_scores"]
    algo = verl_config.algorithm if verl_config is not None else None
    out = compute_advantage(
        batch,
        adv_estimator=config.adv_estimator,
        gamma=float(algo.gamma) if algo is not None else 1.0,
        lam=float(algo.lam) if algo is not None else 1.0,
        num_repeat=config.group_size,
        norm_adv_by_std_in_grpo=True,
        config=algo,
    )
    pad = out.batch["response_mask"] == 0
    out.batch["advantages"] = out.batch["advantages"].masked_fill(pad, 0.0)
    return out
