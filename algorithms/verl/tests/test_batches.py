"""Spans of a real run → VERL's real ``DataProto``, every tensor checked against values computed
here by hand from the recorded triplets (runs in the verl venv: ``make test-verl``)."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

pytest.importorskip("verl", reason="needs VERL: runs in .venv-verl (make test-verl)")

import numpy as np
import torch
from agentlightning_verl import VERLConfig
from agentlightning_verl.batch import build_batch, call_level_advantages, samples_from_outcomes
from verl import DataProto
from verl_recorded_run import RecordedRun

from agentlightning_core.triplet import TraceToTriplet

PAD = 0
EPS = 1e-6  # VERL's GRPO epsilon
SMALL = {"model_path": "unused", "tasks_per_step": 3, "group_size": 2, "ppo_mini_batch_size": 3}


def config(**overrides: Any) -> VERLConfig:
    """The recorded run's shape (3 tasks x 2 rollouts) with ``overrides``."""
    return VERLConfig(**{**SMALL, **overrides})


def expected_rows(triplets: list[Any]) -> dict[str, torch.Tensor]:
    """The layout VERL's agent loop produces, built with plain Python loops."""
    p_len = max(len(t.prompt_token_ids) for t in triplets)
    r_len = max(len(t.response_token_ids) for t in triplets)
    rows: dict[str, list[list[Any]]] = {
        k: [] for k in ("prompts", "responses", "attention_mask", "position_ids")
    }
    for t in triplets:
        p, r = list(t.prompt_token_ids), list(t.response_token_ids)
        rows["prompts"].append([PAD] * (p_len - len(p)) + p)
        rows["responses"].append(r + [PAD] * (r_len - len(r)))
        mask = [0] * (p_len - len(p)) + [1] * (len(p) + len(r)) + [0] * (r_len - len(r))
        rows["attention_mask"].append(mask)
        # left pads 0, then 0..n-1, right pads repeat the last position
        positions = [max(sum(mask[: i + 1]) - 1, 0) for i in range(len(mask))]
        rows["position_ids"].append(positions)
    return {k: torch.tensor(v, dtype=torch.long) for k, v in rows.items()}


def test_the_run_is_multi_turn_multi_agent_with_per_call_rewards(run: RecordedRun) -> None:
    assert len(run.outcomes) == 6 and all(o.succeeded for o in run.outcomes)
    assert run.groups == [g for i in range(3) for g in [f"s1-t{i}"] * 2]
    for outcome in run.outcomes:
        triplets = outcome.triplets(TraceToTriplet(reward_mode="per_call"))
        assert [t.agent_name for t in triplets] == ["solver", "critic", "solver"]
        assert all(t.has_tokens and t.response_logprobs for t in triplets)
        rewards = [t.reward for t in triplets]
        assert rewards[1] is None and rewards[0] in (0.0, 0.5) and rewards[2] in (0.0, 1.0)
    for g in range(3):  # every group has one right and one wrong final answer
        assert sorted(o.reward for o in run.outcomes[2 * g : 2 * g + 2]) == [0.0, 1.0]


def test_final_reward_rollout_level_grpo_on_the_solver_only(run: RecordedRun) -> None:
    cfg = config(agent_match="solver")
    samples, stats = samples_from_outcomes(run.outcomes, run.groups, cfg)
    transform = TraceToTriplet(agent_match="solver")
    triplets = [t for o in run.outcomes for t in o.triplets(transform)]
    assert stats.samples == len(samples) == len(triplets) == 12  # 6 rollouts x 2 solver calls
    assert stats.calls == 12 and stats.dropped_no_tokens == 0 and stats.failed_rollouts == 0

    batch = build_batch(samples, pad_token_id=PAD)
    assert isinstance(batch, DataProto) and len(batch) == 12
    want = expected_rows(triplets)
    b = batch.batch
    for key in ("prompts", "responses", "attention_mask", "position_ids"):
        assert torch.equal(b[key], want[key]), key
    assert torch.equal(b["input_ids"], torch.cat([want["prompts"], want["responses"]], dim=1))
    p_len = want["prompts"].shape[1]
    assert torch.equal(b["response_mask"], want["attention_mask"][:, p_len:])

    # rewards: the rollout's final reward on each call's last response token
    rollout_of = [o for o in run.outcomes for _ in o.triplets(transform)]
    rewards = [o.reward for o in rollout_of]
    scores = torch.zeros_like(b["token_level_scores"])
    for i, t in enumerate(triplets):
        scores[i, len(t.response_token_ids) - 1] = rewards[i]
    assert torch.equal(b["token_level_scores"], scores)

    # advantages: GRPO over the rollouts of a task (each rollout once, not once per call)
    by_group: dict[str, list[float]] = {}
    for outcome, g in zip(run.outcomes, run.groups, strict=True):
        by_group.setdefault(g, []).append(outcome.reward)
    per_rollout = {
        o.rollout.rollout_id: (o.reward - statistics.fmean(by_group[g]))
        / (statistics.stdev(by_group[g]) + EPS)
        for o, g in zip(run.outcomes, run.groups, strict=True)
    }
    adv = torch.tensor([per_rollout[t.rollout_id] for t in triplets])[:, None] * b["response_mask"]
    assert torch.allclose(b["advantages"], adv, atol=1e-6)
    assert torch.equal(b["returns"], b["advantages"])
    # one right and one wrong rollout per task: |A| = (1 - .5) / std([0, 1]) on every response token
    assert torch.allclose(adv[adv != 0].abs(), torch.tensor(0.5 / 0.5**0.5), atol=1e-5)

    # vLLM's log-probs on the response tokens
    assert torch.equal(b["rollout_log_probs"], -0.5 * b["response_mask"].float())

    nt = batch.non_tensor_batch
    assert list(nt["agent_name"]) == ["solver"] * 12
    assert list(nt["rollout_id"]) == [t.rollout_id for t in triplets]
    assert list(nt["span_id"]) == [t.span_id for t in triplets]
    assert list(nt["uid"]) == [
        g for g, o in zip(run.groups, run.outcomes, strict=True) for _ in o.triplets(transform)
    ]
    assert list(nt["call_index"]) == [0, 1] * 6 and not nt["is_pad"].any()
    assert batch.meta_info["global_token_num"] == b["attention_mask"].sum(-1).tolist()


def test_per_call_rewards_with_verl_call_level_grpo(run: RecordedRun) -> None:
    cfg = config(reward_mode="per_call", advantage_level="call")
    samples, _ = samples_from_outcomes(run.outcomes, run.groups, cfg)
    triplets = [t for o in run.outcomes for t in o.triplets(TraceToTriplet(reward_mode="per_call"))]
    assert len(samples) == 18  # every call of every rollout, the critic's too
    batch = build_batch(samples, pad_token_id=PAD)
    assert "advantages" not in batch.batch.keys()  # computed by VERL below
    rewards = [t.reward if t.reward is not None else 0.0 for t in triplets]
    last = torch.tensor([len(t.response_token_ids) - 1 for t in triplets])
    assert torch.equal(batch.batch["token_level_scores"][torch.arange(18), last], torch.tensor(rewards))
    assert batch.batch["token_level_scores"].sum().item() == pytest.approx(sum(rewards))

    out = call_level_advantages(batch, cfg)  # VERL's compute_advantage, GRPO over calls by uid
    uids = list(out.non_tensor_batch["uid"])
    by_uid: dict[str, list[float]] = {}
    for u, r in zip(uids, rewards, strict=True):
        by_uid.setdefault(u, []).append(r)
    want = torch.tensor(
        [
            (r - statistics.fmean(by_uid[u])) / (statistics.stdev(by_uid[u]) + EPS)
            for u, r in zip(uids, rewards, strict=True)
        ]
    )
    assert torch.allclose(out.batch["advantages"], want[:, None] * out.batch["response_mask"], atol=1e-5)


def test_padding_to_the_data_parallel_size_adds_inert_rows(run: RecordedRun) -> None:
    cfg = config(agent_match="critic")
    samples, _ = samples_from_outcomes(run.outcomes, run.groups, cfg)
    assert len(samples) == 6
    batch = build_batch(samples, pad_token_id=PAD, pad_to_multiple=4)
    assert len(batch) == 8
    pad = torch.from_numpy(batch.non_tensor_batch["is_pad"].astype(bool))
    assert pad.tolist() == [False] * 6 + [True] * 2
    for key in ("response_mask", "token_level_scores", "advantages", "rollout_log_probs"):
        assert batch.batch[key][pad].abs().sum() == 0, key
    assert torch.equal(batch.batch["input_ids"][6], batch.batch["input_ids"][0])  # a copy, masked out
    assert list(batch.non_tensor_batch["uid"][6:]) == ["pad-6", "pad-7"]  # groups of their own


def test_overlong_prompts_are_dropped_or_truncated_and_responses_cut(run: RecordedRun) -> None:
    lengths = sorted(len(t.prompt_token_ids) for o in run.outcomes for t in o.triplets())
    limit = lengths[len(lengths) // 2]
    dropped, stats = samples_from_outcomes(run.outcomes, run.groups, config(max_prompt_length=limit))
    assert stats.dropped_overlong_prompt == sum(n > limit for n in lengths) > 0
    assert all(len(s.prompt_ids) <= limit for s in dropped)
    kept, stats = samples_from_outcomes(
        run.outcomes,
        run.groups,
        config(max_prompt_length=limit, overlong_prompts="truncate_left", max_response_length=3),
    )
    assert len(kept) == 18 and stats.truncated_prompts > 0 and stats.truncated_responses > 0
    assert max(len(s.prompt_ids) for s in kept) == limit and max(len(s.response_ids) for s in kept) == 3
    batch = build_batch(kept, pad_token_id=PAD)
    assert batch.batch["responses"].shape[1] == 3 and batch.batch["prompts"].shape[1] == limit


def test_no_tokens_recorded_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="token ids"):
        build_batch([], pad_token_id=PAD)


def test_batch_survives_verls_own_transforms(run: RecordedRun) -> None:
    """What the trainer does before the workers see it: DataProto → TensorDict → no-padding."""
    from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding

    samples, _ = samples_from_outcomes(
        run.outcomes,
        run.groups,
        config(),
    )
    batch = build_batch(samples, pad_token_id=PAD)
    td = left_right_2_no_padding(batch.to_tensordict())
    lengths = td["input_ids"].offsets().diff().tolist()
    assert lengths == batch.batch["attention_mask"].sum(-1).tolist()
    # the per-token values VERL's engine would return for the full sequences, sliced back
    values = torch.nested.nested_tensor_from_jagged(
        td["input_ids"].values().float(), offsets=td["input_ids"].offsets()
    )
    sliced = no_padding_2_padding(values, td)
    # position t of the output holds the input at t - 1 (log-prob of token t predicted at t - 1)
    for i, s in enumerate(samples):
        seq = s.prompt_ids + s.response_ids
        want = [float(x) for x in seq[len(s.prompt_ids) - 1 : len(seq) - 1]]
        assert sliced[i, : len(s.response_ids)].tolist() == want


def test_verl_data_metrics_accept_the_batch(run: RecordedRun) -> None:
    from verl.trainer.ppo.metric_utils import compute_data_metrics

    samples, _ = samples_from_outcomes(
        run.outcomes,
        run.groups,
        config(),
    )
    batch = build_batch(samples, pad_token_id=PAD)
    batch.batch["token_level_rewards"] = batch.batch["token_level_scores"]
    metrics = compute_data_metrics(batch, use_critic=False)
    assert metrics["critic/score/max"] == pytest.approx(1.0)
    assert metrics["response_length/mean"] == pytest.approx(
        float(np.mean([len(s.response_ids) for s in samples]))
    )


def test_rollout_level_rloo_is_leave_one_out_over_the_group() -> None:
    from agentlightning_verl.batch import rollout_advantages

    rewards, groups = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0], ["a", "a", "a", "b", "b", "b"]
    got = rollout_advantages(rewards, groups, config(adv_estimator="rloo"))
    want = [
        r - statistics.fmean([o for j, o in enumerate(rewards[g * 3 : g * 3 + 3]) if j != i % 3])
        for g in range(2)
        for i, r in enumerate(rewards[g * 3 : g * 3 + 3], start=g * 3)
    ]
    assert got == pytest.approx(want)
