"""GRPO maths on tiny tensors, against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from agentlightning_grpo.losses import group_advantages, kl_k3, policy_loss, token_logprobs


def test_advantages_are_centred_and_scaled_within_each_group() -> None:
    # group 0: rewards 0, 1 -> mean .5, sample std .7071 ; group 1: 1, 1, 1, 0 -> mean .75, std .5
    adv = group_advantages([0.0, 1.0, 1.0, 1.0, 1.0, 0.0], [0, 0, 1, 1, 1, 1])
    assert adv[0] == pytest.approx(-0.5 / math.sqrt(0.5), rel=1e-5)
    assert adv[1] == pytest.approx(0.5 / math.sqrt(0.5), rel=1e-5)
    assert adv[2:] == pytest.approx([0.5, 0.5, 0.5, -1.5], rel=1e-5)


def test_a_group_with_equal_rewards_has_no_signal() -> None:
    assert group_advantages([1.0, 1.0, 1.0], [7, 7, 7]) == [0.0, 0.0, 0.0]
    assert group_advantages([0.0, 0.0], [1, 1], scale=False) == [0.0, 0.0]


def test_unscaled_advantages_are_only_centred() -> None:
    assert group_advantages([0.0, 0.0, 3.0], [0, 0, 0], scale=False) == pytest.approx([-1.0, -1.0, 2.0])


def test_advantages_reject_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        group_advantages([1.0], [0, 0])


def test_kl_k3_matches_formula_and_is_zero_when_equal() -> None:
    logp = torch.tensor([-1.0, -2.0])
    ref = torch.tensor([-1.0, -1.5])
    kl = kl_k3(logp, ref)
    assert float(kl[0]) == pytest.approx(0.0)
    assert float(kl[1]) == pytest.approx(math.exp(0.5) - 0.5 - 1.0)


def test_on_policy_loss_is_minus_mean_advantage_and_gradient_is_advantage_weighted() -> None:
    logp = torch.tensor([[-1.0, -2.0], [-0.5, 0.0]], requires_grad=True)
    mask = torch.tensor([[1, 1], [1, 0]])
    adv = torch.tensor([2.0, -1.0])
    parts = policy_loss(logp, logp.detach(), adv, mask)
    # ratio 1 everywhere: per-token loss -A; token mean over 3 tokens: (-2 -2 +1)/3 = -1
    assert float(parts.loss) == pytest.approx(-1.0)
    parts.loss.backward()
    assert logp.grad is not None
    assert logp.grad.flatten().tolist() == pytest.approx([-2 / 3, -2 / 3, 1 / 3, 0.0])
    assert float(parts.clip_fraction) == 0.0


def test_clipping_caps_the_ratio_in_the_direction_of_the_advantage() -> None:
    old = torch.zeros(1, 3)
    # ratios e^0.5=1.649 (clipped at 1.2 for A>0), e^-0.5=0.607 (not clipped for A>0: min picks it), 1
    logp = torch.tensor([[0.5, -0.5, 0.0]], requires_grad=True)
    parts = policy_loss(logp, old, torch.tensor([1.0]), torch.ones(1, 3), clip_low=0.2, clip_high=0.2)
    expected = -(1.2 + math.exp(-0.5) + 1.0) / 3
    assert float(parts.loss) == pytest.approx(expected, rel=1e-5)
    parts.loss.backward()
    assert logp.grad is not None
    # the clipped token gets no gradient; the others get -ratio/3
    assert logp.grad.tolist()[0] == pytest.approx([0.0, -math.exp(-0.5) / 3, -1 / 3], rel=1e-5)
    assert float(parts.clip_fraction) == pytest.approx(1 / 3)


def test_negative_advantage_clips_below() -> None:
    old = torch.zeros(1, 1)
    logp = torch.tensor([[-1.0]], requires_grad=True)  # ratio .368 < .8
    parts = policy_loss(logp, old, torch.tensor([-1.0]), torch.ones(1, 1), clip_low=0.2, clip_high=0.28)
    # -min(.368*-1, .8*-1) = -(-.8) = .8
    assert float(parts.loss) == pytest.approx(0.8)
    assert float(parts.clip_fraction) == 1.0


def test_kl_term_is_added_with_beta() -> None:
    logp = torch.tensor([[-1.0, -1.0]])
    ref = torch.tensor([[-1.0, -2.0]])
    parts = policy_loss(logp, logp, torch.tensor([0.0]), torch.ones(1, 2), beta=0.5, ref_logp=ref)
    k = math.exp(-1.0) + 1.0 - 1.0  # d = -1: e^-1 - (-1) - 1
    assert float(parts.kl) == pytest.approx(k / 2)
    assert float(parts.loss) == pytest.approx(0.5 * k / 2)
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(logp, logp, torch.tensor([0.0]), torch.ones(1, 2), beta=0.1)


def test_seq_mean_weighs_sequences_equally_and_normalizer_splits_micro_batches() -> None:
    logp = torch.zeros(2, 3)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    adv = torch.tensor([1.0, 3.0])
    assert float(policy_loss(logp, logp, adv, mask, aggregation="seq_mean").loss) == pytest.approx(-2.0)
    assert float(policy_loss(logp, logp, adv, mask).loss) == pytest.approx(-6 / 4)
    halves = [
        policy_loss(logp[i : i + 1], logp[i : i + 1], adv[i : i + 1], mask[i : i + 1], normalizer=4.0).loss
        for i in range(2)
    ]
    assert float(sum(halves)) == pytest.approx(-6 / 4)


def test_token_logprobs_is_log_softmax_at_temperature() -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    lp = token_logprobs(logits, torch.tensor([2]), temperature=2.0)
    expected = torch.log_softmax(logits / 2.0, -1)[0, 2]
    assert float(lp[0]) == pytest.approx(float(expected))
