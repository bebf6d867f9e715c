"""Keeping the store's record of this runner (``Worker``) current without a write per rollout.

Changes (a rollout started or finished) mark the record dirty; a background task writes it at
most every ``min_interval`` seconds, and every ``keepalive`` seconds anyway so the dashboard can
tell a quiet runner from a dead one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import Any

from ..store.base import LightningStore
from ..types import Worker, WorkerStatus
from .aio import wait_event

log = logging.getLogger(__name__)


class WorkerReporter:
    def __init__(
        self,
        store: LightningStore,
        worker_id: str,
        *,
        min_interval: float = 0.2,
        keepalive: float = 5.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.worker = Worker(
            worker_id=worker_id,
            status=WorkerStatus.IDLE,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            metadata=dict(metadata or {}),
        )
        self.min_interval = min_interval
        self.keepalive = keepalive
        self._dirty = asyncio.Event()
        self._closing = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._write()
        self._task = asyncio.create_task(self._loop(), name=f"worker-record-{self.worker.worker_id}")

    def update(self, current_rollout_ids: list[str]) -> None:
        """Record which rollouts run now; busy when there is at least one."""
        self.worker.current_rollout_ids = list(current_rollout_ids)
        self.worker.status = WorkerStatus.BUSY if current_rollout_ids else WorkerStatus.IDLE
        self._dirty.set()

    async def close(self) -> None:
        """Stop the updates and write the final ``stopped`` record."""
        if self._task is not None:
            self._closing = True
            self._stop.set()
            self._dirty.set()
            with contextlib.suppress(Exception):
                await self._task
            self._task = None
        self.worker.status = WorkerStatus.STOPPED
        self.worker.current_rollout_ids = []
        await self._write()

    async def _loop(self) -> None:
        while not self._closing:
            await wait_event(self._dirty, self.keepalive)
            if self._closing:
                return
            self._dirty.clear()
            await self._write()
            await wait_event(self._stop, self.min_interval)  # rate limit; ends early on close

    async def _write(self) -> None:
        self.worker.last_heartbeat = time.time()
        try:
            await self.store.update_worker(self.worker)
        except Exception as exc:  # the record is informational; a failed write waits for the next
            log.debug("could not update worker record %s: %s", self.worker.worker_id, exc)
