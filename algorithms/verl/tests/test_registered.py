"""The distribution registers algorithm ``verl``; its options are checked before any GPU work;
on a machine without a GPU it fails with the install command (runs in both venvs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from agentlightning_verl import VERL, GPUStackError, VERLConfig
from pydantic import ValidationError

from agentlightning_core.algorithm import TrainerContext
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.store.memory import InMemoryStore

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_verl_is_registered_through_the_entry_point() -> None:
    manager = AglPluginManager()
    registry = manager.registry("agl_register_algorithms")
    assert "verl" in registry
    assert registry.entries["verl"].provider.distribution == "agentlightning-verl"
    algo = manager.algorithm_factory("verl")(model_path="Qwen/Qwen2.5-1.5B-Instruct", group_size=8)
    assert algo.name == "verl" and algo.config.group_size == 8


def test_bad_options_fail_with_the_field_and_the_fix() -> None:
    with pytest.raises(ValidationError, match="group_siz"):
        VERL(group_siz=4)
    with pytest.raises(ValidationError, match="adv_estimator"):
        VERL(adv_estimator="ppo2")
    with pytest.raises(ValidationError, match="advantage_level='call'"):
        VERL(reward_mode="per_call")
    with pytest.raises(ValidationError, match="advantage_level='call'"):
        VERL(adv_estimator="gae")
    with pytest.raises(ValidationError, match="ppo_mini_batch_size"):
        VERL(tasks_per_step=8, ppo_mini_batch_size=16)


def test_example_config_files_load() -> None:
    calc = VERL(config_file=EXAMPLES / "calc_x" / "verl_calc_x.yaml", epochs=1)
    assert calc.config.model_path == "Qwen/Qwen2.5-1.5B-Instruct" and calc.config.epochs == 1
    spider = VERLConfig.from_yaml(EXAMPLES / "spider" / "verl_spider.yaml")
    assert spider.agent_match == ["write", "rewrite"]
    overrides = spider.verl_overrides("runs/spider")
    assert overrides["actor_rollout_ref"]["rollout"]["n"] == 4
    assert overrides["trainer"]["default_local_dir"] == str(Path("runs/spider") / "checkpoints")


def _ctx(tmp_path: Path) -> TrainerContext:
    return TrainerContext(InMemoryStore(), train_data=[{"q": i} for i in range(4)], output_dir=tmp_path)


def test_without_a_gpu_the_run_fails_before_starting_with_the_install_command(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    algo = VERL(model_path="Qwen/Qwen2.5-1.5B-Instruct", tasks_per_step=4, ppo_mini_batch_size=4)
    with pytest.raises(GPUStackError) as info:
        algo.check(_ctx(tmp_path))
    message = str(info.value)
    assert "needs 1 CUDA GPU(s)" in message and "setup_stable_gpu.sh" in message
    assert "agentlightning-verl[gpu]" in message and "algorithm='grpo'" in message


def test_missing_options_fail_before_the_gpu_check(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="model_path"):
        VERL().check(_ctx(tmp_path))
    with pytest.raises(ValueError, match="lower tasks_per_step"):
        VERL(model_path="m").check(_ctx(tmp_path))  # 32 tasks per step, 4 tasks


def test_building_a_batch_without_verl_names_the_extra() -> None:
    if importlib.util.find_spec("verl") is not None:
        pytest.skip("VERL is installed in this venv")
    from agentlightning_verl.batch import build_batch

    with pytest.raises(GPUStackError, match=r"agentlightning-verl\[verl\]"):
        build_batch([], pad_token_id=0)


def test_trainer_fit_on_a_cpu_machine_stops_at_the_gpu_check(tmp_path: Path) -> None:
    """The whole user path — Trainer, algorithm and engine by name — on this GPU-less machine."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from agentlightning_core import Trainer, rollout

    @rollout
    async def agent(task: dict[str, int]) -> float:
        return 0.0

    trainer = Trainer(
        algorithm="verl",
        config_file=EXAMPLES / "calc_x" / "verl_calc_x.yaml",
        tasks_per_step=2,
        ppo_mini_batch_size=2,
        engine="vllm",  # attached to VERL's replicas once they exist: nothing starts before the check
        store="memory://",
        bus="memory",
        progress=False,
        output_dir=tmp_path,
    )
    with pytest.raises(GPUStackError, match="setup_stable_gpu.sh"):
        trainer.fit(agent, [{"n": i} for i in range(4)])
