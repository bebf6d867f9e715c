"""GRPO hyper-parameters, validated once so a typo fails before any model loads."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class LoRAOptions(BaseModel):
    """``GRPO(lora={...})``: train low-rank adapters (peft) instead of every weight.

    The engine serves the base weights plus the current adapter; each step swaps only the
    adapter's matrices into it; checkpoints hold the adapter; :meth:`GRPO.export` merges it into
    a Hugging Face folder.
    """

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, description="adapter rank")
    alpha: int = Field(32, gt=0, description="scaling numerator: the delta is (alpha / r)·B·A")
    target_modules: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LORA_TARGETS),
        min_length=1,
        description="linear layers to adapt, by name (the last part of the module path, or a longer suffix)",
    )
    name: str = Field("policy", min_length=1, description="the adapter's name: the model id the agent calls")


def adapter_patterns(patterns: str | list[str]) -> list[re.Pattern[str]]:
    return [re.compile(p) for p in ([patterns] if isinstance(patterns, str) else patterns)]


def check_adapter_map(adapters: dict[str, str | list[str]]) -> None:
    """Refuse, before anything loads, an adapter map that cannot route: no adapters, an empty
    name, a bad regex, or two adapters whose patterns match one agent. Overlap is decided on the
    names each pattern spells out (``write``, and each branch of ``check|rewrite``): an agent
    named by one adapter's pattern must not be matched by another's."""
    if not adapters:
        raise ValueError(
            "adapters is empty: map adapter names to agent-name patterns, e.g. {'writer': 'write'}"
        )
    compiled: dict[str, list[re.Pattern[str]]] = {}
    for name, patterns in adapters.items():
        if not name:
            raise ValueError("adapters: an adapter name is empty")
        try:
            compiled[name] = adapter_patterns(patterns)
        except re.error as exc:
            raise ValueError(
                f"adapters[{name!r}]: {patterns!r} is not a regular expression ({exc})"
            ) from None
    for name, patterns in adapters.items():
        spelled = [b for p in ([patterns] if isinstance(patterns, str) else patterns) for b in p.split("|")]
        for agent in spelled:
            others = [o for o, ps in compiled.items() if o != name and any(p.fullmatch(agent) for p in ps)]
            if others and re.fullmatch(r"[\w.\-]+", agent):
                raise ValueError(
                    f"adapters: agent {agent!r} is matched by adapter {name!r} and by {others}; each agent "
                    "must have one adapter"
                )


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
    gradient_checkpointing: bool = Field(
        False,
        description="recompute each layer's activations during backward instead of keeping them (less memory, "
        "~1/3 more compute); each sample then runs prompt+completion in one plain forward, without the shared "
        "prompt prefill",
    )
    success_threshold: float = Field(1.0, description="a rollout with reward >= this counts as correct")

    # --- hinted rollouts: a start for behaviour the untrained model never samples
    hinted_per_group: int = Field(
        0,
        ge=0,
        description="rollouts of each group sent with metadata {'hint': True} during the first hint_until_step "
        "steps (the agent decides what a hint means, e.g. forcing its first tool call with tool_choice); the "
        "others are unhinted, so a group's rewards vary and its unhinted rollouts learn from the difference. "
        "Validation is never hinted",
    )
    hint_until_step: int = Field(
        0, ge=0, description="hint rollouts in steps 1..hint_until_step (0 = never; see hinted_per_group)"
    )

    # --- LoRA (peft); None = full fine-tuning
    lora: LoRAOptions | None = Field(
        None,
        description="LoRA via peft: {'r': 16, 'alpha': 32, 'target_modules': [...]}; None = full fine-tuning",
    )

    # --- credit: which reward each LLM call learns from
    credit: Literal["final", "per_call", "discounted"] = Field(
        "final",
        description="final: the rollout's reward goes to every call; per_call: each emit_reward goes to the "
        "LLM call before it; discounted: return-to-go with gamma across a rollout's calls",
    )
    gamma: float = Field(1.0, ge=0.0, le=1.0, description="discount of credit='discounted' (1 = plain sum)")

    # --- one LoRA adapter per agent
    adapters: dict[str, str | list[str]] | None = Field(
        None,
        description="adapter name -> agent-name pattern(s) (regex, full match, as agent_match): each agent's "
        "calls are answered and trained by its own LoRA adapter (rank/alpha/targets from lora)",
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
        if self.adapters is not None:
            check_adapter_map(self.adapters)
            if self.lora is None:
                self.lora = LoRAOptions()
            if self.agent_match is not None:
                raise ValueError(
                    "adapters and agent_match both choose which agents train; with adapters, only the agents "
                    "its patterns match are trained: drop agent_match"
                )
        if self.hinted_per_group >= self.group_size:
            raise ValueError(
                f"hinted_per_group={self.hinted_per_group} must be less than group_size={self.group_size}: "
                "a group needs unhinted rollouts to learn the behaviour the hint shows"
            )
        if self.hinted_per_group and not self.hint_until_step:
            raise ValueError("hinted_per_group is set but hint_until_step is 0: set the last hinted step")
        if self.gamma != 1.0 and self.credit != "discounted":
            raise ValueError(
                f"gamma={self.gamma} is only used with credit='discounted' (credit is {self.credit!r}); "
                "set credit='discounted' or drop gamma"
            )
        return self
