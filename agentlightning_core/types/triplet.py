"""Triplets: (prompt, response, reward) per LLM call — what reinforcement learning consumes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Triplet(BaseModel):
    """One LLM call of one attempt, with the reward it was assigned.

    ``prompt`` and ``response`` keep the messages as sent and received; the token ids (and
    log-probs when the engine returned them) are what a trainer needs to compute a policy loss
    without re-tokenizing.
    """

    rollout_id: str
    attempt_id: str
    span_id: str
    sequence_id: int | None = None
    agent_name: str | None = None
    prompt: Any = None
    response: Any = None
    prompt_token_ids: list[int] = Field(default_factory=list)
    response_token_ids: list[int] = Field(default_factory=list)
    response_logprobs: list[float] | None = None
    reward: float | None = None
    weights_version: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def has_tokens(self) -> bool:
        return bool(self.prompt_token_ids) and bool(self.response_token_ids)
