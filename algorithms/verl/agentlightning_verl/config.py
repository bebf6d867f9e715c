"""``VERLConfig``: this project's knobs plus VERL's own Hydra config, validated before any GPU work.

Two layers, so the common knobs read like the ``grpo`` algorithm's and everything else stays
VERL's vocabulary:

* named fields (``model_path``, ``tasks_per_step``, ``group_size``, ``learning_rate``, ...) that
  this project validates with pydantic and writes into VERL's config;
* ``verl``: a nested mapping of raw VERL overrides (``{"actor_rollout_ref": {"actor":
  {"ppo_micro_batch_size_per_gpu": 4}}}``), merged last, for anything not named here.

:func:`compose_verl_config` (needs ``verl``) merges both into VERL's shipped ``ppo_trainer.yaml``
and runs VERL's own ``validate_config`` on the result, so a config that passes here is one VERL
itself accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

RewardMode = Literal["final", "per_call"]
AdvantageLevel = Literal["rollout", "call"]

#: VERL's advantage estimators this integration drives (GRPO family through the rollout-level
#: path or VERL's estimator; PPO through VERL's GAE with a critic).
ESTIMATORS = ("grpo", "gae", "rloo", "reinforce_plus_plus", "reinforce_plus_plus_baseline", "grpo_passk")


class VERLConfig(BaseModel):
    """Every knob of :class:`~agentlightning_verl.VERL`; defaults mirror the peer's calc_x run."""

    model_config = ConfigDict(extra="forbid")

    # --- what is trained
    model_path: str | None = Field(
        None, description="Hugging Face id or local folder of the policy (required to train)"
    )
    adv_estimator: str = Field("grpo", description=f"one of {', '.join(ESTIMATORS)}; 'gae' is PPO")
    advantage_level: AdvantageLevel = Field(
        "rollout",
        description="'rollout': one advantage per rollout, group-relative over its task's rollouts, "
        "given to every call it made; 'call': VERL's estimator over calls (needed for per-call rewards)",
    )
    reward_mode: RewardMode = Field("final", description="final reward to every call, or per call")
    agent_match: str | list[str] | None = Field(None, description="train only these agents' calls (regex)")
    llm_resource: str = Field("main_llm", description="name of the LLM resource the agent reads")

    # --- one step
    tasks_per_step: int = Field(32, ge=1, description="distinct tasks per step (VERL data.train_batch_size)")
    group_size: int = Field(4, ge=1, description="rollouts per task (VERL rollout.n)")
    epochs: int = Field(2, ge=1, description="passes over the training data")
    steps: int | None = Field(None, ge=1, description="stop after this many steps (default: epochs)")
    seed: int = 0

    # --- lengths (tokens)
    max_prompt_length: int = Field(4096, ge=1)
    max_response_length: int = Field(2048, ge=1)
    overlong_prompts: Literal["drop", "truncate_left"] = Field(
        "drop",
        description="a call whose prompt is longer than max_prompt_length is dropped or left-truncated",
    )

    # --- sampling
    temperature: float = Field(1.0, gt=0.0, le=2.0)
    tool_call_parser: str | None = Field(
        "hermes",
        description="vLLM's tool-call parser for agents that call tools (hermes: Qwen2.5); None = no tools",
    )

    # --- optimisation (written into actor_rollout_ref.actor)
    learning_rate: float = Field(1e-6, gt=0.0)
    clip_ratio_low: float = Field(0.2, ge=0.0)
    clip_ratio_high: float = Field(0.3, ge=0.0)
    use_kl_loss: bool = False
    kl_loss_coef: float = Field(0.0, ge=0.0)
    entropy_coeff: float = 0.0
    ppo_mini_batch_size: int = Field(32, ge=1, description="tasks per optimizer step (VERL counts tasks)")
    micro_batch_size_per_gpu: int = Field(4, ge=1)
    lora_rank: int = Field(0, ge=0, description="0 = full fine-tuning")
    lora_alpha: int = Field(16, ge=1)

    # --- evaluation, checkpoints, export
    eval_every: int = Field(32, ge=0, description="validate every N steps (0 = never during training)")
    eval_before: bool = True
    checkpoint_every: int = Field(64, ge=0, description="save a VERL checkpoint every N steps (0 = never)")
    keep_checkpoints: int | None = Field(None, ge=1)
    resume: bool = Field(True, description="continue from the latest checkpoint in the output directory")
    export_hf: bool = Field(True, description="write the final actor as a Hugging Face folder (<output>/hf)")

    # --- hardware
    n_gpus_per_node: int = Field(1, ge=1)
    nnodes: int = Field(1, ge=1)
    tensor_parallel_size: int = Field(1, ge=1, description="vLLM tensor parallelism per replica")
    gpu_memory_utilization: float = Field(0.6, gt=0.0, le=1.0)
    param_offload: bool = True
    optimizer_offload: bool = True

    # --- raw VERL overrides, merged last
    verl: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> VERLConfig:
        if self.adv_estimator not in ESTIMATORS:
            raise ValueError(f"adv_estimator={self.adv_estimator!r} is not one of {', '.join(ESTIMATORS)}")
        if self.reward_mode == "per_call" and self.advantage_level == "rollout":
            raise ValueError(
                "reward_mode='per_call' needs advantage_level='call' (a rollout-level advantage has "
                "one reward per rollout); set advantage_level='call'"
            )
        if self.adv_estimator == "gae" and self.advantage_level == "rollout":
            raise ValueError(
                "adv_estimator='gae' (PPO) computes token-level advantages with a critic; "
                "set advantage_level='call'"
            )
        if self.ppo_mini_batch_size > self.tasks_per_step:
            raise ValueError(
                f"ppo_mini_batch_size ({self.ppo_mini_batch_size}) must be <= tasks_per_step "
                f"({self.tasks_per_step})"
            )
        return self

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> VERLConfig:
        """Load a config file (the examples ship ``verl_*.yaml``) with keyword overrides on top."""
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of VERLConfig fields, got {type(data).__name__}")
        return cls(**{**data, **overrides})

    # ----------------------------------------------------------- VERL overrides
    def verl_overrides(self, output_dir: str | Path = "runs/verl") -> dict[str, Any]:
        """The nested overrides this config writes into VERL's ``ppo_trainer.yaml``."""
        out = Path(output_dir)
        lora: dict[str, Any] = {"lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha}
        if self.lora_rank:
            lora["target_modules"] = "all-linear"
        named: dict[str, Any] = {
            "algorithm": {
                "adv_estimator": self.adv_estimator,
                "use_kl_in_reward": False,
            },
            "data": {
                "train_batch_size": self.tasks_per_step,
                "max_prompt_length": self.max_prompt_length,
                "max_response_length": self.max_response_length,
                "seed": self.seed,
            },
            "actor_rollout_ref": {
                "model": {
                    "path": self.model_path or "MODEL_PATH_NOT_SET",
                    "use_remove_padding": True,
                    "enable_gradient_checkpointing": True,
                    **lora,
                },
                "actor": {
                    "optim": {"lr": self.learning_rate},
                    "ppo_mini_batch_size": self.ppo_mini_batch_size,
                    "ppo_micro_batch_size_per_gpu": self.micro_batch_size_per_gpu,
                    "clip_ratio_low": self.clip_ratio_low,
                    "clip_ratio_high": self.clip_ratio_high,
                    "use_kl_loss": self.use_kl_loss,
                    "kl_loss_coef": self.kl_loss_coef,
                    "entropy_coeff": self.entropy_coeff,
                    "fsdp_config": {
                        "param_offload": self.param_offload,
                        "optimizer_offload": self.optimizer_offload,
                    },
                },
                "rollout": {
                    "name": "vllm",
                    "n": self.group_size,
                    "temperature": self.temperature,
                    "tensor_model_parallel_size": self.tensor_parallel_size,
                    "gpu_memory_utilization": self.gpu_memory_utilization,
                    "log_prob_micro_batch_size_per_gpu": self.micro_batch_size_per_gpu,
                    # VERL 0.9.1 starts its vLLM servers with sleep mode on (RolloutConfig
                    # .enable_sleep_mode defaults True) and frees their memory while training.
                    "free_cache_engine": True,
                    # the replicas are vLLM's `vllm serve`: these become its CLI flags
                    "engine_kwargs": {"vllm": self._vllm_flags()},
                },
                "ref": {
                    "log_prob_micro_batch_size_per_gpu": self.micro_batch_size_per_gpu * 2,
                    "fsdp_config": {"param_offload": True},
                },
            },
            "trainer": {
                "n_gpus_per_node": self.n_gpus_per_node,
                "nnodes": self.nnodes,
                "total_epochs": self.epochs,
                "total_training_steps": self.steps,
                "save_freq": self.checkpoint_every if self.checkpoint_every else -1,
                "test_freq": self.eval_every if self.eval_every else -1,
                "val_before_train": self.eval_before,
                "critic_warmup": 0,
                "resume_mode": "auto" if self.resume else "disable",
                "default_local_dir": str(out / "checkpoints"),
                "max_actor_ckpt_to_keep": self.keep_checkpoints,
                "max_critic_ckpt_to_keep": self.keep_checkpoints,
                "logger": ["console"],
                "project_name": "agentlightning",
                "experiment_name": out.name or "verl",
                "use_v1": False,
            },
        }
        return deep_merge(named, self.verl)

    def _vllm_flags(self) -> dict[str, Any]:
        if not self.tool_call_parser:
            return {}
        return {"enable_auto_tool_choice": True, "tool_call_parser": self.tool_call_parser}


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, recursively for nested mappings (lists and scalars are replaced)."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def compose_verl_config(
    config: VERLConfig, output_dir: str | Path = "runs/verl", *, validate: bool = True
) -> Any:
    """VERL's ``ppo_trainer.yaml`` (as shipped in the installed ``verl``) with this config merged in.

    Unknown keys fail (VERL's config is a structured OmegaConf tree): a typo in ``verl=`` names
    the key instead of being ignored. With ``validate`` VERL's own ``validate_config`` runs too
    (batch-size divisibility, micro-batch settings, critic and LoRA checks).
    """
    from .requirements import require_verl

    verl = require_verl()
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigKeyError

    config_dir = Path(str(verl.__file__)).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        base = compose(config_name="ppo_trainer")
    overrides = OmegaConf.create(config.verl_overrides(output_dir))
    OmegaConf.set_struct(base, True)
    # free-form in VERL's design (`+...engine_kwargs.vllm.flag=...` on its command line)
    OmegaConf.set_struct(base.actor_rollout_ref.rollout.engine_kwargs, False)
    try:
        merged = OmegaConf.merge(base, overrides)
    except ConfigKeyError as exc:
        raise ValueError(f"unknown VERL config key in the overrides: {exc}") from None
    if validate:
        from verl.trainer.ppo.utils import need_critic, need_reference_policy
        from verl.utils.config import validate_config

        validate_config(
            merged, use_reference_policy=need_reference_policy(merged), use_critic=need_critic(merged)
        )
    return merged
