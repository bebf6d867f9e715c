"""Documents ↔ models.

A rollout is one document with its attempts embedded (an attempt's ``sequence`` is its position
+ 1), so every state change of a rollout and its attempts is one atomic single-document write.
The task input, config and metadata are stored as JSON text: any JSON the user gives (keys with
``$`` or ``.``, integers beyond 64 bits) round-trips, which BSON documents would not guarantee.
"""

from __future__ import annotations

from typing import Any

import orjson

from agentlightning_core.types import Attempt, AttemptStatus, Rollout, RolloutConfig, RolloutStatus


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def rollout_document(rollout: Rollout, seq: int) -> dict[str, Any]:
    return {
        "_id": rollout.rollout_id,
        "seq": seq,
        "queue_seq": seq,
        "status": rollout.status.value,
        "mode": rollout.mode,
        "resources_id": rollout.resources_id,
        "input": dumps(rollout.input),
        "config": rollout.config.model_dump_json(),
        "meta": dumps(rollout.metadata),
        "enqueue_time": rollout.enqueue_time,
        "end_time": None,
        "num_attempts": 0,
        "version": 0,
        "attempts": [],
    }


def rollout_from_document(doc: dict[str, Any]) -> Rollout:
    return Rollout(
        rollout_id=doc["_id"],
        input=orjson.loads(doc["input"]),
        mode=doc.get("mode"),
        resources_id=doc.get("resources_id"),
        status=RolloutStatus(doc["status"]),
        config=RolloutConfig.model_validate_json(doc["config"]),
        enqueue_time=doc["enqueue_time"],
        start_time=doc.get("start_time"),
        end_time=doc.get("end_time"),
        num_attempts=doc["num_attempts"],
        metadata=orjson.loads(doc["meta"]),
    )


def attempt_document(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt_id": attempt.attempt_id,
        "worker_id": attempt.worker_id,
        "status": attempt.status.value,
        "start_time": attempt.start_time,
        "end_time": attempt.end_time,
        "last_heartbeat": attempt.last_heartbeat,
        "error": attempt.error,
        "meta": dumps(attempt.metadata),
        "span_seq": 0,
    }


def attempt_from_document(rollout_id: str, index: int, doc: dict[str, Any]) -> Attempt:
    return Attempt(
        rollout_id=rollout_id,
        attempt_id=doc["attempt_id"],
        sequence=index + 1,
        worker_id=doc.get("worker_id"),
        status=AttemptStatus(doc["status"]),
        start_time=doc["start_time"],
        end_time=doc.get("end_time"),
        last_heartbeat=doc["last_heartbeat"],
        error=doc.get("error"),
        metadata=orjson.loads(doc["meta"]),
    )


def attempt_changes(index: int, attempt: Attempt) -> dict[str, Any]:
    """``$set`` fields for one embedded attempt."""
    prefix = f"attempts.{index}."
    return {
        prefix + "status": attempt.status.value,
        prefix + "end_time": attempt.end_time,
        prefix + "last_heartbeat": attempt.last_heartbeat,
        prefix + "error": attempt.error,
        prefix + "meta": dumps(attempt.metadata),
    }
