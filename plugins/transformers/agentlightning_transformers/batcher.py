"""Gathers requests that arrive together into one generation batch, on one worker thread.

A thread rather than an asyncio task: the proxy, the trainer and tests may call the engine from
different event loops (uvicorn runs its own), and torch releases the GIL while it computes. The
worker waits for a short quiet period after the first request (``window_s``; at most
``max_wait_s``) so that the rollouts of a GRPO group, which reach the proxy within milliseconds
of each other, share one batch and one prompt prefill. Requests that arrive while a batch
decodes join it at the next token (continuous batching) when the run function supports it:
before, a GRPO group whose rollouts reached the proxy 170 ms apart (openai clients being built)
was decoded as two batches one after the other, doubling the step's generation time.
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


#: ``run(rows, join, finished) -> results``: decode ``rows``; it may call ``join(active_rows)``
#: between tokens to take in rows that arrived since, and ``finished(index, result)`` as each row
#: completes (index over ``rows`` then every joined row); rows it never reports are taken from
#: the returned list
RunBatch = Callable[
    [list[SampleRequest], Callable[[int], list[SampleRequest]], Callable[[int, R], None]], list[R]
]


class Batcher(Generic[R]):
    """``submit(rows)`` returns the results of ``run(all rows of the batch)`` for those rows."""

    def __init__(
        self,
        run: RunBatch[R],
        *,
        max_batch_size: int = 64,
        window_s: float = 0.02,
        max_wait_s: float = 0.2,
        accept: Callable[[], bool] | None = None,
        name: str = "agl-engine-batcher",
    ) -> None:
        self._run = run
        #: while this returns False nothing joins a running batch (e.g. a weight swap waits)
        self.accept = accept
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

    def _join(self, active_rows: int) -> list[_Job]:
        """Jobs that arrived while a batch decodes, up to ``max_batch_size`` rows in all."""
        if self.accept is not None and not self.accept():
            return []
        jobs: list[_Job] = []
        rows = active_rows
        with self._cond:
            while self._pending and rows + len(self._pending[0].rows) <= self.max_batch_size:
                job = self._pending.pop(0)
                if job.future.set_running_or_notify_cancel():
                    jobs.append(job)
                    rows += len(job.rows)
        return jobs

    def _loop(self) -> None:
        while True:
            jobs = self._take()
            if not jobs:
                return
            live = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            if live:
                _Batch(self, live).run()


class _Batch(Generic[R]):
    """The jobs of one running batch, answered one by one as their rows finish: a short answer
    never waits for a long one."""

    def __init__(self, batcher: Batcher[R], jobs: list[_Job]) -> None:
        self.batcher = batcher
        self.jobs = jobs
        self.owner: list[int] = []  # row -> job
        self.first: list[int] = []  # job -> its first row
        self.done: dict[int, R] = {}
        self.answered: set[int] = set()
        for i, job in enumerate(jobs):
            self.first.append(len(self.owner))
            self.owner.extend(i for _ in job.rows)

    def join(self, active_rows: int) -> list[SampleRequest]:
        rows: list[SampleRequest] = []
        for job in self.batcher._join(active_rows):
            self.first.append(len(self.owner))
            self.owner.extend(len(self.jobs) for _ in job.rows)
            self.jobs.append(job)
            rows.extend(job.rows)
        return rows

    def finished(self, index: int, value: R) -> None:
        self.done[index] = value
        job_i = self.owner[index]
        first, count = self.first[job_i], len(self.jobs[job_i].rows)
        if job_i not in self.answered and all(k in self.done for k in range(first, first + count)):
            self.answered.add(job_i)
            self.jobs[job_i].future.set_result([self.done[k] for k in range(first, first + count)])

    def run(self) -> None:
        rows = [r for j in self.jobs for r in j.rows]
        try:
            results = self.batcher._run(rows, self.join, self.finished)
        except BaseException as exc:  # every waiting caller must hear about it
            for i, job in enumerate(self.jobs):
                if i not in self.answered:
                    job.future.set_exception(exc)
            return
        for i, job in enumerate(self.jobs):
            if i not in self.answered:
                first = self.first[i]
                job.future.set_result(results[first : first + len(job.rows)])
