"""The memory store's state changes, on a rollout and an attempt loaded from a document.

The *decisions* come from :mod:`agentlightning_core.store.transitions` (shared by every
backend); these helpers apply them to the two objects so the store can write back what changed
with one compare-and-set on the rollout's document.
"""

from __future__ import annotations

from agentlightning_core.store.transitions import can_revive, check_live, rollout_status_after
from agentlightning_core.types import Attempt, AttemptStatus, Rollout, RolloutStatus


def is_latest(rollout: Rollout, attempt: Attempt) -> bool:
    return attempt.sequence == rollout.num_attempts


def touch(rollout: Rollout, attempt: Attempt, now: float) -> bool:
    """Heartbeat, and revival when allowed. True if revived (the caller takes it off the queue)."""
    check_live(rollout, attempt, is_latest(rollout, attempt))  # fencing: refuses a stale attempt
    attempt.last_heartbeat = now
    if not can_revive(rollout, attempt, is_latest(rollout, attempt)):
        return False
    attempt.status = AttemptStatus.RUNNING
    attempt.end_time = None
    attempt.error = None
    rollout.status = RolloutStatus.RUNNING
    return True


def end_attempt(attempt: Attempt, status: AttemptStatus, error: str | None, now: float) -> None:
    attempt.status = status
    attempt.end_time = now
    if error is not None:
        attempt.error = error


def decide_rollout(rollout: Rollout, attempt: Attempt, now: float) -> bool:
    """Apply the rollout's new status after ``attempt`` ended; ``QUEUED`` means requeue at the back."""
    new_status = rollout_status_after(rollout, attempt, is_latest(rollout, attempt))
    if new_status is None:
        return False
    rollout.status = new_status
    if new_status.is_final:
        rollout.end_time = now
    return True
