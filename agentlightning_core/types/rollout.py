"""Rollouts and attempts: the unit of work the store hands to runners.

A *rollout* is one run of the agent on one task. Each try of it by one worker is an *attempt*;
a rollout that fails while attempts remain goes back to the queue, so a dead runner costs one
attempt instead of hanging training.
"""

from __future__ import annotations

import os
import time
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .limits import Id, WorkerId

RolloutMode = Literal["train", "val", "test"]


def new_id(prefix: str) -> str:
    """Return a short random id such as ``ro-3f2a...``; the prefix tells ids apart in logs.

    ``os.urandom`` rather than ``uuid4``: the same 64 random bits, several times faster, and ids
    are made on every dequeue and span.
    """
    return f"{prefix}-{os.urandom(8).hex()}"


class RolloutStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (RolloutStatus.SUCCEEDED, RolloutStatus.FAILED, RolloutStatus.CANCELLED)


class AttemptStatus(str, Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    UNRESPONSIVE = "unresponsive"

    @property
    def is_final(self) -> bool:
        return self is not AttemptStatus.RUNNING


#: Attempt outcomes that may be retried; ``succeeded`` never is.
RETRYABLE_STATUSES = (AttemptStatus.FAILED, AttemptStatus.TIMEOUT, AttemptStatus.UNRESPONSIVE)

#: What a rollout is retried on unless its config says otherwise: the runner went silent or ran
#: out of time (a crash, a lost machine). A ``failed`` attempt is the agent's own verdict, so it
#: is retried only when ``retry_on`` names it.
DEFAULT_RETRY_ON = (AttemptStatus.TIMEOUT, AttemptStatus.UNRESPONSIVE)

#: Attempts per rollout unless its config says otherwise: a runner crash costs an attempt, not the
#: rollout.
DEFAULT_MAX_ATTEMPTS = 3


class RolloutConfig(BaseModel):
    """Per-rollout execution policy.

    ``timeout_seconds`` bounds an attempt's wall time; ``unresponsive_seconds`` bounds the gap
    between heartbeats. Either being exceeded ends the attempt, and the rollout is requeued while
    ``max_attempts`` allows and the attempt's outcome is listed in ``retry_on``.

    Defaults (every enqueue path: store API, HTTP, client, Trainer, CLI): 3 attempts, retried on
    ``timeout`` and ``unresponsive``; add ``failed`` to ``retry_on`` to retry the agent's own
    failures too. Backoff: a retry is queued as soon as the store decides the attempt is over,
    with no extra delay, because the wait that detection takes (``unresponsive_seconds``, or
    the timeout) already spaces the attempts out; the retry goes to the head of the queue, ahead
    of rollouts never tried, so a crash does not send a rollout behind the whole backlog.
    """

    model_config = ConfigDict(extra="forbid")

    timeout_seconds: float | None = Field(default=None, gt=0)
    unresponsive_seconds: float | None = Field(default=None, gt=0)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1, le=100)
    retry_on: list[AttemptStatus] = Field(default_factory=lambda: list(DEFAULT_RETRY_ON))

    @field_validator("retry_on")
    @classmethod
    def _no_success_retry(cls, value: list[AttemptStatus]) -> list[AttemptStatus]:
        if AttemptStatus.SUCCEEDED in value or AttemptStatus.RUNNING in value:
            raise ValueError("retry_on may only name failed, timeout or unresponsive")
        return value


class Rollout(BaseModel):
    """One run of the agent on one task (``input``), as the store keeps it."""

    rollout_id: Id = Field(default_factory=lambda: new_id("ro"))
    input: Any = None
    mode: RolloutMode | None = None
    resources_id: Id | None = None
    status: RolloutStatus = RolloutStatus.QUEUED
    config: RolloutConfig = Field(default_factory=RolloutConfig)
    enqueue_time: float = Field(default_factory=time.time)
    start_time: float | None = None
    end_time: float | None = None
    num_attempts: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)


class Attempt(BaseModel):
    """One try of a rollout by one worker. ``sequence`` counts tries of the same rollout from 1."""

    rollout_id: Id
    attempt_id: Id = Field(default_factory=lambda: new_id("at"))
    sequence: int = Field(ge=1)
    worker_id: WorkerId | None = None
    status: AttemptStatus = AttemptStatus.RUNNING
    start_time: float = Field(default_factory=time.time)
    end_time: float | None = None
    last_heartbeat: float = Field(default_factory=time.time)
    error: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class AttemptedRollout(BaseModel):
    """What a dequeue hands out: the rollout and the attempt just started for it."""

    rollout: Rollout
    attempt: Attempt


class RolloutRequest(BaseModel):
    """The caller's part of a rollout, for enqueueing."""

    model_config = ConfigDict(extra="forbid")

    input: Any = None
    mode: RolloutMode | None = None
    resources_id: Id | None = None
    config: RolloutConfig | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
