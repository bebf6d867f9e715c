"""Gathers requests that arrive together into one generation batch, on one worker thread.

A thread rather than an asyncio task: the proxy, the trainer and tests may call the engine from
different event loops (uvicorn runs its own), and torch releases the GIL while it computes. The
worker waits for a short quiet period after the first request (``window_s``; at most
``max_wait_s``) so that the rollouts of a GRPO group, which reach the proxy within milliseconds
of each other, share one batch and one prompt prefill.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .generate import SampleRequest

R = TypeVar("R")


@dataclass
class _Job:
    rows: list[SampleRequest]
    future: concurrent.futures.Future[Any]


class Batcher(Generic[R]):
    """``submit(rows)`` returns the results of ``run(all rows of the batch)`` for those rows."""

    def __init__(
        self,
        run: Callable[[list[SampleRequest]], list[R]],
        *,
        max_batch_size: int = 64,
        window_s: float = 0.02,
        max_wait_s: float = 0.2,
        name: str = "agl-engine-batcher",
    ) -> None:
        self._run = run
        self.max_batch_size = max_batch_size
        self.window_s = window_s
        self.max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self._pending: list[_Job] = []
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    async def submit(self, rows: list[SampleRequest]) -> list[R]:
        future: concurrent.futures.Future[list[R]] = concurrent.futures.Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the engine is closed; start it again before sending requests")
            self._pending.append(_Job(rows, future))
            self._cond.notify_all()
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for job in self._pending:
                job.future.cancel()
            self._pending.clear()
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def _pending_rows(self) -> int:
        return sum(len(j.rows) for j in self._pending)

    def _take(self) -> list[_Job]:
        """Wait for work, then for the quiet period; return the jobs of the next batch."""
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if self._closed:
                return []
            deadline = time.monotonic() + self.max_wait_s
            while self._pending_rows() < self.max_batch_size:
                seen = len(self._pending)
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(timeout=min(self.window_s, left))
                if len(self._pending) == seen:
                    break
            jobs: list[_Job] = []
            rows = 0
            while self._pending and (not jobs or rows + len(self._pending[0].rows) <= self.max_batch_size):
                job = self._pending.pop(0)
                jobs.append(job)
                rows += len(job.rows)
            return jobs

    def _loop(self) -> None:
        while True:
            jobs = self._take()
            if not jobs:
                return
            live = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            if not live:
                continue
            rows = [r for j in live for r in j.rows]
            try:
                results = self._run(rows)
            except BaseException as exc:  # every waiting caller must hear about it
                for job in live:
                    job.future.set_exception(exc)
                continue
            start = 0
            for job in live:
                job.future.set_result(results[start : start + len(job.rows)])
                start += len(job.rows)
