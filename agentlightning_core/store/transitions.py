"""The state rules every store backend applies, as pure functions.

Backends keep their own storage and atomicity; the decisions live here once, so a SQL store and
the memory store cannot drift apart.
"""

from __future__ import annotations

from ..errors import AttemptSupersededError, ConflictError, InvalidRequestError
from ..types import Attempt, AttemptStatus, Rollout, RolloutConfig, RolloutStatus

CANCELLED_ERROR = "rollout cancelled"


def rollout_status_after(rollout: Rollout, attempt: Attempt, is_latest: bool) -> RolloutStatus | None:
    """The rollout's new status once ``attempt`` reached a final status, or ``None`` for no change.

    ``QUEUED`` means: put it back at the end of the queue for another attempt.
    """
    if not is_latest or rollout.status.is_final or attempt.status is AttemptStatus.RUNNING:
        return None
    if attempt.status is AttemptStatus.SUCCEEDED:
        return RolloutStatus.SUCCEEDED
    retry = attempt.status in rollout.config.retry_on and attempt.sequence < rollout.config.max_attempts
    return RolloutStatus.QUEUED if retry else RolloutStatus.FAILED


def unresponsive_limit(config: RolloutConfig, default_unresponsive_seconds: float | None) -> float | None:
    """The heartbeat limit an attempt of a rollout with ``config`` lives under: the rollout's own
    ``unresponsive_seconds``, else the store's default (``None``: the store's default is off)."""
    if config.unresponsive_seconds is not None:
        return config.unresponsive_seconds
    return default_unresponsive_seconds


def overdue_status(
    rollout: Rollout, attempt: Attempt, now: float, *, default_unresponsive_seconds: float | None
) -> AttemptStatus | None:
    """``TIMEOUT`` or ``UNRESPONSIVE`` if a running attempt broke its rollout's limits.

    ``default_unresponsive_seconds`` is the store's heartbeat limit for rollouts that set none
    (:attr:`LightningStore.default_unresponsive_seconds`), so a rollout enqueued without limits
    is still recovered when its runner dies. Keyword-only and required: every backend passes
    its store's value, none can forget it.
    """
    if attempt.status is not AttemptStatus.RUNNING:
        return None
    cfg = rollout.config
    if cfg.timeout_seconds is not None and now - attempt.start_time > cfg.timeout_seconds:
        return AttemptStatus.TIMEOUT
    limit = unresponsive_limit(cfg, default_unresponsive_seconds)
    if limit is not None and now - attempt.last_heartbeat > limit:
        return AttemptStatus.UNRESPONSIVE
    return None


def can_revive(rollout: Rollout, attempt: Attempt, is_latest: bool) -> bool:
    """An unresponsive attempt that reports again comes back if nothing replaced it (callers
    ran :func:`check_live` first, which refuses the rest)."""
    return attempt.status is AttemptStatus.UNRESPONSIVE and is_latest and not rollout.status.is_final


def check_live(rollout: Rollout, attempt: Attempt, is_latest: bool) -> None:
    """The fencing check every write from an attempt's worker passes first (heartbeat, spans, status).

    The attempt's ``sequence`` is its fencing token: only the rollout's latest attempt may write,
    and only while the store has not ended it for good. Refused (``AttemptSupersededError``, 409):

    * a newer attempt exists (this one was given up on and the rollout retried);
    * the watchdog timed it out (``timeout`` is terminal);
    * it is ``unresponsive`` and its rollout is final (no retry was left);
    * its rollout was cancelled.

    An ``unresponsive`` attempt that is still the latest, with its rollout not final, passes: it
    is revived (nothing replaced it). An attempt its own runner ended (``succeeded``/``failed``)
    passes: late spans and a repeated finish of the same runner are accepted.
    """
    reason = None
    if not is_latest:
        reason = f"attempt #{rollout.num_attempts} replaced it"
    elif attempt.status is AttemptStatus.TIMEOUT:
        reason = "the watchdog timed it out"
    elif rollout.status is RolloutStatus.CANCELLED:
        reason = "the rollout was cancelled"
    elif attempt.status is AttemptStatus.UNRESPONSIVE and rollout.status.is_final:
        reason = "the watchdog gave up on it (unresponsive)"
    if reason is None:
        return
    raise AttemptSupersededError(
        f"attempt superseded: attempt {attempt.attempt_id} (#{attempt.sequence}) of rollout "
        f"{rollout.rollout_id} may no longer write: {reason}; the rollout is {rollout.status.value!r}"
    )


def check_status_change(attempt: Attempt, new_status: AttemptStatus) -> None:
    """Refuse changes that would rewrite history: a terminal attempt stays as it ended."""
    if new_status is attempt.status or attempt.status in (AttemptStatus.RUNNING, AttemptStatus.UNRESPONSIVE):
        return
    raise ConflictError(
        f"attempt {attempt.attempt_id} already ended as {attempt.status.value!r}; "
        f"it cannot become {new_status.value!r}"
    )


def validate_page(limit: int | None, offset: int) -> None:
    if limit is not None and limit < 0:
        raise InvalidRequestError(f"limit must be >= 0 (got {limit}); omit it for no limit")
    if offset < 0:
        raise InvalidRequestError(f"offset must be >= 0 (got {offset})")
