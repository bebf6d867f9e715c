"""Rows ↔ models. JSON columns are text encoded with orjson (see ``schema.py`` for why)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from agentlightning_core.types import Attempt, AttemptStatus, Rollout, RolloutConfig, RolloutStatus, Span

from .schema import attempts, rollouts

#: rollouts and attempts selected together carry these labels (both tables have ``status``, ...)
ROLLOUT_COLUMNS = [c.label(f"r_{c.name}") for c in rollouts.c]
ATTEMPT_COLUMNS = [c.label(f"a_{c.name}") for c in attempts.c]


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def rollout_values(rollout: Rollout) -> dict[str, Any]:
    return {
        "rollout_id": rollout.rollout_id,
        "status": rollout.status.value,
        "mode": rollout.mode,
        "resources_id": rollout.resources_id,
        "input": dumps(rollout.input),
        "config": rollout.config.model_dump_json(),
        "meta": dumps(rollout.metadata),
        "enqueue_time": rollout.enqueue_time,
        "start_time": rollout.start_time,
        "end_time": rollout.end_time,
        "num_attempts": rollout.num_attempts,
    }


def rollout_from_row(row: Mapping[Any, Any], prefix: str = "") -> Rollout:
    return Rollout(
        rollout_id=row[f"{prefix}rollout_id"],
        input=loads(row[f"{prefix}input"]),
        mode=row[f"{prefix}mode"],
        resources_id=row[f"{prefix}resources_id"],
        status=RolloutStatus(row[f"{prefix}status"]),
        config=RolloutConfig.model_validate_json(row[f"{prefix}config"]),
        enqueue_time=row[f"{prefix}enqueue_time"],
        start_time=row[f"{prefix}start_time"],
        end_time=row[f"{prefix}end_time"],
        num_attempts=row[f"{prefix}num_attempts"],
        metadata=loads(row[f"{prefix}meta"]),
    )


def attempt_values(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt_id": attempt.attempt_id,
        "rollout_id": attempt.rollout_id,
        "sequence": attempt.sequence,
        "worker_id": attempt.worker_id,
        "status": attempt.status.value,
        "start_time": attempt.start_time,
        "end_time": attempt.end_time,
        "last_heartbeat": attempt.last_heartbeat,
        "error": attempt.error,
        "meta": dumps(attempt.metadata),
    }


def attempt_from_row(row: Mapping[Any, Any], prefix: str = "") -> Attempt:
    return Attempt(
        rollout_id=row[f"{prefix}rollout_id"],
        attempt_id=row[f"{prefix}attempt_id"],
        sequence=row[f"{prefix}sequence"],
        worker_id=row[f"{prefix}worker_id"],
        status=AttemptStatus(row[f"{prefix}status"]),
        start_time=row[f"{prefix}start_time"],
        end_time=row[f"{prefix}end_time"],
        last_heartbeat=row[f"{prefix}last_heartbeat"],
        error=row[f"{prefix}error"],
        metadata=loads(row[f"{prefix}meta"]),
    )


def span_values(span: Span, attempt_seq: int) -> dict[str, Any]:
    return {
        "rollout_id": span.rollout_id,
        "attempt_id": span.attempt_id,
        "attempt_seq": attempt_seq,
        "sequence_id": span.sequence_id,
        "name": span.name,
        "data": span.model_dump_json(),
        "span_id": span.span_id,
    }
