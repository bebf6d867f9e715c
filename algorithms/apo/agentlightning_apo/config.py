"""APO's parameters, with their defaults and what each one costs.

Every number here is documented in the README's parameter table; the two must say the same.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Selection = Literal["ucb", "successive_rejects"]


class APOConfig(BaseModel):
    """Parameters of :class:`~agentlightning_apo.APO`.

    Cost per round, in rollouts: ``beam_width * train_batch_size`` for the train minibatches, plus
    ``selection_budget * val_batch_size`` for scoring; in LLM calls:
    ``beam_width * critiques_per_parent * (1 + branch_factor)``.
    """

    model_config = ConfigDict(extra="forbid")

    rounds: int = Field(default=3, ge=1, description="expand-and-select rounds")
    beam_width: int = Field(default=2, ge=1, description="prompts kept after each round")
    branch_factor: int = Field(default=2, ge=1, description="editor rewrites per critique (b)")
    critiques_per_parent: int = Field(
        default=1, ge=1, description="critiques (textual gradients) asked for per beam prompt and round"
    )
    train_batch_size: int = Field(
        default=8, ge=1, description="train tasks each beam prompt runs on before it is critiqued"
    )
    failures_per_critique: int = Field(
        default=4, ge=1, description="worst train rollouts shown to the critic in one critique"
    )
    failure_threshold: float = Field(
        default=1.0,
        description="a train rollout whose reward is below this (or that failed) counts as a failure",
    )
    missing_placeholders: Literal["reject", "append"] = Field(
        default="reject",
        description="an edit that drops a placeholder: 'reject' it, or 'append' the placeholder and score it",
    )
    val_batch_size: int = Field(
        default=8, ge=1, description="val tasks per pull: one pull scores one candidate on this many"
    )
    selection: Selection = Field(
        default="ucb", description="how the scoring budget is spent: 'ucb' or 'successive_rejects'"
    )
    selection_budget: int | None = Field(
        default=None,
        ge=1,
        description="pulls per round (None: 2 x the number of candidates); never below one pull per "
        "unscored candidate",
    )
    ucb_c: float = Field(default=1.0, ge=0.0, description="UCB exploration weight c")
    final_eval: bool = Field(
        default=True,
        description="score the final beam and the initial prompt on the whole val set and pick by that",
    )
    final_eval_size: int | None = Field(
        default=None, ge=1, description="cap on val tasks for the final evaluation (None: all)"
    )
    prompt_names: list[str] | None = Field(
        default=None,
        description="PromptTemplate resources to optimise (None: every PromptTemplate in the resources)",
    )
    agent_match: str | list[str] | None = Field(
        default=None,
        description="show the critic only LLM calls of these agents (name or regex; None: all calls)",
    )
    critic_sampling: dict[str, Any] = Field(
        default_factory=lambda: {"temperature": 0.7, "max_tokens": 400},
        description="sampling parameters of critic calls (over the critic LLM's own)",
    )
    editor_sampling: dict[str, Any] = Field(
        default_factory=lambda: {"temperature": 0.9, "max_tokens": 400},
        description="sampling parameters of editor calls (over the editor LLM's own)",
    )
    critic_api_key_env: str | None = Field(
        default=None, description="environment variable holding the critic endpoint's API key"
    )
    editor_api_key_env: str | None = Field(
        default=None, description="environment variable holding the editor endpoint's API key"
    )
    critic_instructions: str | None = Field(default=None, description="replaces the critic's system prompt")
    editor_instructions: str | None = Field(default=None, description="replaces the editor's system prompt")
    llm_timeout: float = Field(default=600.0, gt=0, description="seconds per critic or editor call")
    llm_retries: int = Field(
        default=2, ge=0, description="retries of a critic/editor call on 429, 5xx or a lost connection"
    )
    max_trace_chars: int = Field(
        default=1500, ge=100, description="characters of one rollout's trace shown to the critic"
    )
    seed: int = Field(default=0, description="seeds minibatch sampling and the val order")
    output_subdir: str = Field(default="apo", description="folder under the trainer's output_dir")
    resume: bool = Field(
        default=False, description="continue from the checkpoint in the output folder if there is one"
    )

    @model_validator(mode="after")
    def _check(self) -> APOConfig:
        if self.prompt_names is not None and not self.prompt_names:
            raise ValueError("prompt_names must name at least one PromptTemplate resource, or be None")
        return self

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the checkpointed one for the history to stay valid."""
        return self.model_dump(
            include={
                "beam_width",
                "branch_factor",
                "critiques_per_parent",
                "train_batch_size",
                "val_batch_size",
                "selection",
                "seed",
                "prompt_names",
                "missing_placeholders",
            }
        )
