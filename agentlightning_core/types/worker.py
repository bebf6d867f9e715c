"""Workers: runner processes (or tasks) as the store sees them."""

from __future__ import annotations

import time
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from .limits import WorkerId


class WorkerStatus(str, Enum):
    IDLE = "idle"
    BUSY = "busy"
    STOPPED = "stopped"
    LOST = "lost"


class Worker(BaseModel):
    worker_id: WorkerId
    status: WorkerStatus = WorkerStatus.IDLE
    hostname: str | None = None
    pid: int | None = None
    current_rollout_ids: list[str] = Field(default_factory=list)
    last_heartbeat: float = Field(default_factory=time.time)
    start_time: float = Field(default_factory=time.time)
    metadata: dict[str, Any] = Field(default_factory=dict)
