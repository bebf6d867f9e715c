"""The memory store's state changes, on a rollout and an attempt loaded from the database.

The *decisions* come from :mod:`agentlightning_core.store.transitions` (shared by every
backend); these helpers only apply them to the two objects, so the store can write back the
rows that changed inside the same transaction that read them.
"""

from __future__ import annotations

from agentlightning_core.store.transitions import can_revive, check_live, rollout_status_after
from agentlightning_core.types import Attempt, AttemptStatus, Rollout, RolloutStatus


def is_latest(rollout: Rollout, attempt: Attempt) -> bool:
    """``num_attempts`` is the sequence of the rollout's newest attempt."""
    return attempt.sequence == rollout.num_attempts


def touch(rollout: Rollout, attempt: Attempt, now: float) -> bool:
    """A report from the attempt's worker: heartbeat, and revival when allowed. True if revived.

    A revived rollout is running again; the caller takes it off the queue.
    """
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
    """Apply the rollout's new status after ``attempt`` ended. True if it changed.

    ``QUEUED`` means requeued: the caller gives it a new queue position at the back.
    """
    new_status = rollout_status_after(rollout, attempt, is_latest(rollout, attempt))
    if new_status is None:
        return False
    rollout.status = new_status
    if new_status.is_final:
        rollout.end_time = now
    return True
