"""APO's whole state: every candidate with its parent, critique and scores, every round's beam.

The same object is the checkpoint (written after each expansion and each pull) and the history
the user reads (``history.json``); nothing in it is secret — endpoints are recorded by URL and
model only.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentlightning_core.types import PromptTemplate

from .selection import SelectionState

CandidateStatus = Literal["initial", "candidate", "rejected", "duplicate"]


class ValSample(BaseModel):
    """One val rollout of a candidate: which task (its index in the val set) and its reward."""

    index: int
    reward: float | None
    rollout_id: str


class Candidate(BaseModel):
    """One version of the optimised prompts."""

    id: str
    parent_id: str | None = None
    round: int = 0
    rank: tuple[int, ...] = (0,)
    prompts: dict[str, PromptTemplate]
    edited: str | None = Field(default=None, description="the prompt name this edit changed")
    critique: str | None = None
    editor_reply: str | None = None
    status: CandidateStatus = "candidate"
    reason: str | None = Field(default=None, description="why a rejected or duplicate edit is not scored")
    duplicate_of: str | None = None
    repairs: list[str] = Field(default_factory=list, description="fixes applied to the editor's text")
    resources_id: str | None = None
    pulls: int = 0
    samples: list[ValSample] = Field(default_factory=list)
    in_beam_after: list[int] = Field(default_factory=list, description="rounds after which it was kept")
    final_score: float | None = None
    final_n: int | None = None

    @property
    def scoreable(self) -> bool:
        return self.status in ("initial", "candidate")

    @property
    def mean(self) -> float:
        """Mean val reward over every sample so far; a failed rollout counts as 0."""
        if not self.samples:
            return 0.0
        return statistics.fmean(s.reward if s.reward is not None else 0.0 for s in self.samples)


class CritiqueRecord(BaseModel):
    index: int
    failures: list[str] = Field(description="rollout ids of the train failures the critic was shown")
    text: str
    children: list[str] = Field(default_factory=list)


class Expansion(BaseModel):
    """One beam prompt's turn in a round: its train minibatch, failures, critiques and children."""

    round: int
    parent_id: str
    target: str
    train_indices: list[int]
    train_rollouts: list[str]
    train_rewards: list[float | None]
    failures: int
    critiques: list[CritiqueRecord] = Field(default_factory=list)
    note: str | None = None

    @property
    def train_mean(self) -> float:
        values = [r if r is not None else 0.0 for r in self.train_rewards]
        return statistics.fmean(values) if values else 0.0


class RoundRecord(BaseModel):
    round: int
    beam_before: list[str]
    expansions: dict[str, Expansion] = Field(default_factory=dict, description="by parent id")
    selection: SelectionState | None = None
    beam_after: list[str] = Field(default_factory=list)
    started: float = 0.0
    finished: float | None = None


class FinalEvaluation(BaseModel):
    candidates: list[str]
    n: int
    scores: dict[str, float]
    best_id: str


class APOState(BaseModel):
    version: int = 1
    fingerprint: dict[str, Any]
    initial_id: str
    val_order: list[int]
    candidates: dict[str, Candidate] = Field(default_factory=dict)
    beam: list[str] = Field(default_factory=list)
    rounds: list[RoundRecord] = Field(default_factory=list)
    final: FinalEvaluation | None = None
    critic: dict[str, Any] = Field(default_factory=dict)
    editor: dict[str, Any] = Field(default_factory=dict)
    started: float = 0.0
    elapsed_s: float = 0.0

    # ------------------------------------------------------------- board (selection reads it)
    def pulls(self, arm: str) -> int:
        return self.candidates[arm].pulls

    def mean(self, arm: str) -> float:
        return self.candidates[arm].mean

    def rank(self, arm: str) -> tuple[int, ...]:
        return self.candidates[arm].rank

    # ------------------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.model_dump_json(indent=1))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> APOState:
        return cls.model_validate(json.loads(path.read_text()))
