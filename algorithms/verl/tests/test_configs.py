"""The shipped configs compose into VERL 0.9.1's own ``ppo_trainer.yaml`` and pass VERL's own
``validate_config``; the trainer subclass matches the installed VERL's API (verl venv)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("verl", reason="needs VERL: runs in .venv-verl (make test-verl)")

from agentlightning_verl import VERLConfig, compose_verl_config

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.parametrize("name", ["calc_x/verl_calc_x.yaml", "spider/verl_spider.yaml"])
def test_example_configs_pass_verls_validation(name: str, tmp_path: Path) -> None:
    config = VERLConfig.from_yaml(EXAMPLES / name)
    merged = compose_verl_config(config, tmp_path / "run")
    arr = merged.actor_rollout_ref
    assert arr.model.path == config.model_path
    assert merged.data.train_batch_size == 32 and arr.rollout.n == 4
    assert arr.actor.optim.lr == pytest.approx(1e-6)
    assert (arr.actor.clip_ratio_low, arr.actor.clip_ratio_high) == (0.2, 0.3)
    assert arr.rollout.name == "vllm" and arr.rollout.gpu_memory_utilization == 0.6
    # tools: the agents call tools through vLLM's OpenAI API, which needs the parser flags
    assert dict(arr.rollout.engine_kwargs.vllm) == {
        "enable_auto_tool_choice": True,
        "tool_call_parser": "hermes",
    }
    assert merged.algorithm.adv_estimator == "grpo"
    assert (
        merged.trainer.save_freq == 64 and merged.trainer.test_freq == 32 and merged.trainer.total_epochs == 2
    )
    assert merged.trainer.default_local_dir == str(tmp_path / "run" / "checkpoints")
    assert merged.trainer.resume_mode == "auto" and merged.trainer.use_v1 is False

    from verl.utils.config import omega_conf_to_dataclass

    actor = omega_conf_to_dataclass(arr.actor)  # VERL's typed actor config, as its workers build it
    assert actor.ppo_mini_batch_size == 32 and actor.ppo_micro_batch_size_per_gpu == 4


def test_raw_overrides_reach_verl_and_typos_are_named(tmp_path: Path) -> None:
    config = VERLConfig(model_path="m", verl={"actor_rollout_ref": {"actor": {"ppo_epochs": 2}}})
    assert compose_verl_config(config, tmp_path).actor_rollout_ref.actor.ppo_epochs == 2
    typo = VERLConfig(model_path="m", verl={"actor_rollout_ref": {"actor": {"ppo_epoch": 2}}})
    with pytest.raises(ValueError, match="ppo_epoch"):
        compose_verl_config(typo, tmp_path)


def test_verl_rejects_what_it_rejects(tmp_path: Path) -> None:
    """VERL's own divisibility check: 3 tasks x 1 rollout on 2 GPUs cannot be split."""
    config = VERLConfig(
        model_path="m", tasks_per_step=3, group_size=1, ppo_mini_batch_size=3, n_gpus_per_node=2
    )
    with pytest.raises(AssertionError, match="divisible"):
        compose_verl_config(config, tmp_path)


def test_ppo_with_a_critic_composes(tmp_path: Path, tiny_model: Path) -> None:
    """PPO: VERL validates the critic against a real model folder (a tiny random Llama here)."""
    from verl.trainer.ppo.utils import need_critic

    config = VERLConfig(
        model_path=str(tiny_model),
        adv_estimator="gae",
        advantage_level="call",
        verl={"critic": {"ppo_micro_batch_size_per_gpu": 4, "model": {"path": str(tiny_model)}}},
    )
    merged = compose_verl_config(config, tmp_path)
    assert need_critic(merged)


def test_the_trainer_subclass_uses_methods_the_installed_verl_has() -> None:
    from agentlightning_verl.trainer import VERL_METHODS
    from verl.trainer.main_ppo_v0 import BaseTaskRunner
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    from verl.workers.rollout.llm_server import LLMServerManager

    missing = [m for m in VERL_METHODS if not hasattr(RayPPOTrainer, m)]
    assert not missing
    assert hasattr(LLMServerManager, "get_addresses")
    for helper in (
        "add_actor_rollout_worker",
        "add_critic_worker",
        "init_resource_pool_mgr",
        "add_ref_policy_worker",
    ):
        assert hasattr(BaseTaskRunner, helper)
    from verl.checkpoint_engine import CheckpointEngineManager

    assert hasattr(CheckpointEngineManager, "update_weights") and hasattr(
        CheckpointEngineManager, "sleep_replicas"
    )
