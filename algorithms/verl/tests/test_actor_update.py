"""VERL's actor update on CPU, for real, on batches built from recorded spans.

What runs: the batch from a real run (``verl_recorded_run.py``), VERL's own driver-side transforms
(``DataProto.to_tensordict``, ``left_right_2_no_padding``, ``no_padding_2_padding``), VERL's typed
actor config built from the shipped calc_x config, and VERL's own PPO loss
(``verl.workers.utils.losses.ppo_loss``, the function its FSDP engine calls per micro-batch) on a
randomly initialised 2-layer Llama, with AdamW steps. What does not run here: the FSDP wrapping,
Ray workers and vLLM (GPU only; see scripts/gpu_check_verl.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("verl", reason="needs VERL: runs in .venv-verl (make test-verl)")

import torch
from agentlightning_verl import VERLConfig, compose_verl_config
from agentlightning_verl.batch import build_batch, samples_from_outcomes
from transformers import AutoModelForCausalLM
from verl.utils import tensordict_utils as tu
from verl.utils.config import omega_conf_to_dataclass
from verl.workers.utils.losses import ppo_loss
from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding
from verl_recorded_run import RecordedRun

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def nested_log_probs(model: Any, td: Any) -> torch.Tensor:
    """Per-token log-probs in VERL's no-padding layout, as its engine computes them: position t
    holds log p(token t+1 | tokens <= t) of each unpadded sequence."""
    ids, positions = td["input_ids"], td["position_ids"]
    offsets = ids.offsets()
    values, pos = ids.values(), positions.values()
    out = []
    for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
        x = values[a:b]
        logits = model(input_ids=x[None], position_ids=pos[a:b][None]).logits[0].float()
        out.append(torch.log_softmax(logits, dim=-1).gather(-1, torch.roll(x, -1)[:, None])[:, 0])
    return torch.nested.nested_tensor_from_jagged(torch.cat(out), offsets=offsets)


def prepare(batch: Any, model: Any) -> Any:
    """What the trainer does before ``update_actor``: old log-probs from the current policy, then
    the no-padding TensorDict with the global batch info the engine adds."""
    with torch.no_grad():
        td = left_right_2_no_padding(batch.to_tensordict())
        batch.batch["old_log_probs"] = no_padding_2_padding(nested_log_probs(model, td), td)
    td = left_right_2_no_padding(batch.to_tensordict())
    tu.assign_non_tensor(
        td, dp_size=1, batch_num_tokens=int(td["loss_mask"].sum()), global_batch_size=len(batch)
    )
    return td


def response_logprob_sums(model: Any, batch: Any) -> torch.Tensor:
    with torch.no_grad():
        td = left_right_2_no_padding(batch.to_tensordict())
        lp = no_padding_2_padding(nested_log_probs(model, td), td)
    return (lp * batch.batch["response_mask"]).sum(-1)


@pytest.fixture
def actor_config(tiny_model: Path, tmp_path: Path) -> Any:
    config = VERLConfig.from_yaml(EXAMPLES / "calc_x" / "verl_calc_x.yaml", model_path=str(tiny_model))
    return omega_conf_to_dataclass(compose_verl_config(config, tmp_path).actor_rollout_ref.actor)


def _batch(run: RecordedRun, pad_to_multiple: int = 1) -> Any:
    config = VERLConfig(
        model_path="unused", agent_match="solver", tasks_per_step=3, group_size=2, ppo_mini_batch_size=3
    )
    samples, _ = samples_from_outcomes(run.outcomes, run.groups, config)
    return build_batch(samples, pad_token_id=0, pad_to_multiple=pad_to_multiple)


def test_first_step_loss_is_verls_token_mean_policy_gradient(
    run: RecordedRun, tiny_model: Path, actor_config: Any
) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    batch = _batch(run)
    td = prepare(batch, model)
    loss, metrics = ppo_loss(actor_config, {"log_probs": nested_log_probs(model, td)}, td)
    # ratio = 1 before any update, so the clipped surrogate is -A on every response token, averaged
    # over the batch's response tokens (loss_agg_mode token-mean); no KL, no entropy term in calc_x
    mask = batch.batch["response_mask"].float()
    want = -(batch.batch["advantages"] * mask).sum() / mask.sum()
    assert actor_config.loss_agg_mode == "token-mean" and not actor_config.use_kl_loss
    assert loss.item() == pytest.approx(want.item(), abs=1e-5)
    assert float(metrics["actor/pg_clipfrac"].aggregate()) == pytest.approx(0.0)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0


def test_padding_rows_change_nothing(run: RecordedRun, tiny_model: Path, actor_config: Any) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    plain, padded = _batch(run), _batch(run, pad_to_multiple=8)
    assert len(padded) == 16 > len(plain)
    losses = []
    for batch in (plain, padded):
        td = prepare(batch, model)
        losses.append(ppo_loss(actor_config, {"log_probs": nested_log_probs(model, td)}, td)[0].item())
    assert losses[0] == pytest.approx(losses[1], abs=1e-6)


@pytest.mark.slow
def test_updates_move_the_policy_toward_positive_advantages(
    run: RecordedRun, tiny_model: Path, actor_config: Any
) -> None:
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    batch = _batch(run)
    before = response_logprob_sums(model, batch)
    td = prepare(batch, model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    clipfracs = []
    for _ in range(4):  # four PPO epochs on one batch, ratio against the sampling policy
        optimizer.zero_grad()
        loss, metrics = ppo_loss(actor_config, {"log_probs": nested_log_probs(model, td)}, td)
        loss.backward()
        optimizer.step()
        clipfracs.append(float(metrics["actor/pg_clipfrac"].aggregate()))
    delta = response_logprob_sums(model, batch) - before
    adv = batch.batch["advantages"][:, 0]
    assert delta[adv > 0].mean() > 0 > delta[adv < 0].mean()
    assert max(float(c) for c in clipfracs[1:]) > 0  # the clip (0.2 / 0.3) engaged after the first step
