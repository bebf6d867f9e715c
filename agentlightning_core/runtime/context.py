"""The attempt a piece of agent code is running in, and the buffer its spans go to.

The runner sets the context before calling the agent; ``emit_reward`` and tracers find it
through a context variable, which ``asyncio`` tasks and ``asyncio.to_thread`` inherit, so sync
and async agent code both work without passing anything around.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..types import Attempt, Reward, Rollout, Span
from ..types.resources import Resource

NamedResources = Mapping[str, Resource]


@dataclass
class AttemptContext:
    """Everything the agent's code may need about the attempt it runs in."""

    rollout: Rollout
    attempt: Attempt
    resources: dict[str, Resource] = field(default_factory=dict)
    resources_id: str | None = None
    worker_id: str | None = None
    #: spans recorded but not yet sent to the store (the runner flushes them in batches)
    pending: list[Span] = field(default_factory=list)
    rewards: list[Reward] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def rollout_id(self) -> str:
        return self.rollout.rollout_id

    @property
    def attempt_id(self) -> str:
        return self.attempt.attempt_id

    def record_span(self, span: Span) -> None:
        """Queue a span for the store; it is tagged with this attempt if it is not already."""
        if span.rollout_id != self.rollout_id or span.attempt_id != self.attempt_id:
            span = span.model_copy(update={"rollout_id": self.rollout_id, "attempt_id": self.attempt_id})
        with self._lock:
            self.pending.append(span)

    def take_pending(self) -> list[Span]:
        with self._lock:
            spans, self.pending = self.pending, []
        return spans

    def emit_reward(self, value: float, name: str = "reward") -> Reward:
        reward = Reward(value=float(value), name=name, rollout_id=self.rollout_id, attempt_id=self.attempt_id)
        self.rewards.append(reward)
        self.record_span(reward.to_span(self.rollout_id, self.attempt_id))
        return reward


_current: ContextVar[AttemptContext | None] = ContextVar("agl_attempt_context", default=None)


def current_context() -> AttemptContext | None:
    """The attempt the calling code runs in, or ``None`` outside a rollout."""
    return _current.get()


def set_context(ctx: AttemptContext | None) -> Any:
    """Set the current attempt; returns a token for :func:`reset_context`."""
    return _current.set(ctx)


def reset_context(token: Any) -> None:
    _current.reset(token)


def emit_reward(value: float, name: str = "reward") -> Reward:
    """Record a reward for the current rollout. Several per rollout are allowed; the last one
    named ``reward`` (or, failing that, the last one) is the rollout's final reward.

    Raises ``RuntimeError`` when called outside a rollout (there is nothing to attach it to).
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"emit_reward(value=...) needs a number, got {value!r}") from None
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError(
            "emit_reward() was called outside a rollout; call it from agent code that a runner or "
            "Trainer executes (or return the reward from the rollout function)"
        )
    return ctx.emit_reward(value, name)
