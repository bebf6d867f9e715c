"""GRPO hyper-parameters, validated once so a typo fails before any model loads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GRPOConfig(BaseModel):
    """Every knob of :class:`~agentlightning_grpo.GRPO`; defaults are the measured CPU defaults."""

    model_config = ConfigDict(extra="forbid")

    # --- what one step is
    steps: int = Field(50, ge=1, description="optimizer steps to run")
    tasks_per_step: int = Field(2, ge=1, description="distinct training tasks per step")
    group_size: int = Field(8, ge=2, description="rollouts per task; advantages are relative within a group")
    seed: int = 0

    # --- sampling (published as the LLM resource's sampling_parameters)
    temperature: float = Field(1.0, gt=0.0, le=2.0)
    max_tokens: int = Field(96, ge=1, description="completion tokens per LLM call")
    llm_resource: str = Field("main_llm", description="name of the LLM resource the agent reads")

    # --- optimisation
    learning_rate: float = Field(2e-5, gt=0.0)
    lr_schedule: Literal["constant", "linear", "cosine"] = Field(
        "constant",
        description="learning rate after warm-up: constant, or decayed to lr_min_ratio x learning_rate "
        "by the last step (linear or cosine)",
    )
    warmup_steps: int = Field(0, ge=0, description="steps of linear warm-up from 0 to learning_rate")
    lr_min_ratio: float = Field(0.0, ge=0.0, le=1.0, description="final learning rate / learning_rate")
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    clip_low: float = Field(0.2, ge=0.0)
    clip_high: float = Field(0.2, ge=0.0)
    beta: float = Field(0.0, ge=0.0, description="KL coefficient to the frozen starting model; 0 = none")
    scale_rewards: bool = Field(True, description="divide group-centred rewards by the group's std")
    loss_aggregation: Literal["token_mean", "seq_mean"] = "token_mean"
    num_iterations: int = Field(1, ge=1, description="optimizer passes over each batch of rollouts")
    micro_batch_size: int = Field(
        16, ge=1, description="sequences per forward/backward (gradient accumulation)"
    )
    success_threshold: float = Field(1.0, description="a rollout with reward >= this counts as correct")

    # --- LoRA (peft); None = full fine-tuning
    lora_rank: int | None = Field(None, ge=1)
    lora_alpha: int | None = None
    lora_targets: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )

    # --- which calls to train
    agent_match: str | list[str] | None = Field(None, description="train only these agents' calls (regex)")

    # --- evaluation, checkpoints
    eval_every: int = Field(10, ge=0, description="greedy validation every N steps (0 = only before/after)")
    eval_before: bool = True
    eval_after: bool = True
    eval_max_tokens: int | None = None
    stop_at_accuracy: float | None = Field(
        None, description="stop early once greedy validation accuracy reaches this (time-to-accuracy runs)"
    )
    time_budget_s: float | None = Field(
        None, gt=0, description="stop after this many seconds of training steps (validation time excluded)"
    )
    checkpoint_every: int = Field(0, ge=0, description="checkpoint every N steps (0 = never)")
    keep_checkpoints: int = Field(1, ge=1)
    resume: bool = Field(False, description="continue from the last checkpoint in the output directory")

    device: str = "auto"
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description="matrix products in training: bf16 autocast (float32 master weights and optimizer) "
        "or fp32; auto = bf16 where the device runs it natively",
    )
    threads: int | None = Field(None, ge=1, description="torch CPU threads for training")

    @model_validator(mode="after")
    def _check(self) -> GRPOConfig:
        if self.lora_alpha is not None and self.lora_rank is None:
            raise ValueError("lora_alpha is set but lora_rank is not; set lora_rank to enable LoRA")
        return self
