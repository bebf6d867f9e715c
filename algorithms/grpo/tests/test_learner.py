"""The learner's shortcuts are exact: shared-prompt log-probs and gradients equal the plain
per-sequence computation, and LoRA's exported (merged) weights reproduce the LoRA model."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import torch
from agentlightning_grpo.config import GRPOConfig
from agentlightning_grpo.learner import Learner, Sample
from agentlightning_transformers.loading import default_model_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=[0, 20], ids=["distinct-prompts", "shared-system-prefix"])
def samples(request: pytest.FixtureRequest) -> list[Sample]:
    rng = random.Random(0)
    common = [rng.randrange(100, 40000) for _ in range(request.param)]
    prompts = [
        common + [rng.randrange(100, 40000) for _ in range(12)],
        common + [rng.randrange(100, 40000) for _ in range(9)],
    ]
    return [
        Sample(
            prompts[i % 2],
            [rng.randrange(100, 40000) for _ in range(rng.randint(1, 5))],
            rng.choice([-1.0, 0.5]),
        )
        for i in range(6)
    ]


@pytest.fixture(scope="module")
def learner() -> Iterator[Learner]:
    torch.manual_seed(0)
    yield Learner(default_model_path(), GRPOConfig(temperature=0.8, precision="fp32"))  # exact comparisons


def naive(learner: Learner, s: Sample) -> torch.Tensor:
    ids = torch.tensor([s.prompt_ids + s.response_ids])
    logits = learner.causal_lm(input_ids=ids).logits[0, len(s.prompt_ids) - 1 : -1] / 0.8
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(s.response_ids)[:, None]).flatten()


def test_shared_prefix_logprobs_and_gradients_equal_the_plain_ones(
    learner: Learner, samples: list[Sample]
) -> None:
    param = learner.causal_lm.model.layers[
        0
    ].self_attn.k_proj.weight  # reached only through the prompt's KV too
    lp, mask = learner.logprobs(samples)
    assert mask.sum().item() == sum(len(s.response_ids) for s in samples)
    (lp * mask).sum().backward()
    assert param.grad is not None
    shared_grad = param.grad.clone()
    learner.optimizer.zero_grad(set_to_none=True)
    total = torch.zeros(())
    for i, s in enumerate(samples):
        want = naive(learner, s)
        assert torch.allclose(lp[i, : len(s.response_ids)], want, atol=1e-4)
        total = total + want.sum()
    total.backward()
    assert torch.allclose(shared_grad, param.grad, atol=1e-4, rtol=1e-3)
    learner.optimizer.zero_grad(set_to_none=True)


def test_a_step_moves_the_weights_and_skips_zero_advantage_samples(
    learner: Learner, samples: list[Sample]
) -> None:
    before = learner.export_weights()["model.norm.weight"].clone()
    flat = [Sample(s.prompt_ids, s.response_ids, 0.0) for s in samples[:2]]
    stats = learner.train_step(samples + flat)
    assert stats.trained_samples == len(samples)
    assert stats.tokens == sum(len(s.response_ids) for s in samples + flat)
    assert stats.grad_norm > 0
    assert not torch.equal(before, learner.export_weights()["model.norm.weight"])
    nothing = learner.train_step(flat)
    assert nothing.trained_samples == 0


def test_the_scheduled_learning_rate_reaches_the_optimizer(learner: Learner, samples: list[Sample]) -> None:
    learner.train_step(samples[:1], learning_rate=1e-7)
    assert [g["lr"] for g in learner.optimizer.param_groups] == [1e-7] * len(learner.optimizer.param_groups)
    learner.train_step(samples[:1], learning_rate=learner.config.learning_rate)


def test_lora_export_reproduces_the_lora_model(samples: list[Sample]) -> None:
    lora = Learner(default_model_path(), GRPOConfig(lora_rank=4, learning_rate=1e-2, precision="fp32"))
    lora.train_step(samples)
    with torch.no_grad():
        want, mask = lora.logprobs(samples)
    plain = Learner(default_model_path(), GRPOConfig(precision="fp32"))
    exported = lora.export_weights()
    assert "model.layers.0.self_attn.q_proj.weight" in exported
    state = plain.causal_lm.state_dict()
    with torch.no_grad():
        for name, value in exported.items():
            state[name].copy_(value)
        got, _ = plain.logprobs(samples)
    assert torch.allclose(got[mask], want[mask], atol=1e-4)


def test_bf16_autocast_logprobs_track_fp32_and_keep_float32_master_weights(
    learner: Learner, samples: list[Sample]
) -> None:
    bf16 = Learner(default_model_path(), GRPOConfig(temperature=0.8, precision="bf16"))
    bf16.load_trainable_state(learner.trainable_state())  # the same weights (earlier tests trained)
    assert bf16.autocast_dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in bf16.params)
    with torch.no_grad():
        want, mask = learner.logprobs(samples)
        got, _ = bf16.logprobs(samples)
    assert got.dtype == torch.float32
    # bf16 keeps ~3 significant digits: per-token log-probs (of these random tokens, about -10
    # each) agree to within a few percent on average (measured: 0.5-2.4%)
    err = (got - want).abs()[mask].mean() / want.abs()[mask].mean()
    assert float(err) < 0.05, float(err)
    stats = bf16.train_step(samples)
    assert stats.grad_norm > 0 and all(p.dtype == torch.float32 for p in bf16.params)
