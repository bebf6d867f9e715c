"""Events carried by the event bus between the store, the trainer, runners and the dashboard.

Topics (``Topic``) and event types are fixed strings so every bus backend and every consumer
agrees on them; payloads are plain JSON.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import BaseModel, Field


class Topic:
    ROLLOUTS = "rollouts"  # rollout.enqueued | rollout.status_changed
    ATTEMPTS = "attempts"  # attempt.started | attempt.status_changed
    RESOURCES = "resources"  # resources.updated
    WORKERS = "workers"  # worker.updated
    METRICS = "metrics"  # metrics.logged


class EventType:
    ROLLOUT_ENQUEUED = "rollout.enqueued"
    ROLLOUT_STATUS_CHANGED = "rollout.status_changed"
    ATTEMPT_STARTED = "attempt.started"
    ATTEMPT_STATUS_CHANGED = "attempt.status_changed"
    RESOURCES_UPDATED = "resources.updated"
    WORKER_UPDATED = "worker.updated"
    METRICS_LOGGED = "metrics.logged"


class Event(BaseModel):
    """One message on the bus. ``event_id`` is unique so subscribers can drop duplicates after a
    reconnect; backends that keep history may replace it with their own ordered id."""

    event_id: str = Field(default_factory=lambda: os.urandom(16).hex())
    topic: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200)
    timestamp: float = Field(default_factory=time.time)
    payload: dict[str, Any] = Field(default_factory=dict)
