"""SQLite's single writer, with group commit.

SQLite lets one connection write at a time, and every transaction pays a fixed price (take the
write lock with ``BEGIN IMMEDIATE``, append a commit record to the WAL). Under load many calls
are waiting for the writer anyway, so one thread takes every call queued at that moment and runs
them in one transaction, each inside its own savepoint: a call that raises is rolled back alone
and gets its exception; the others commit together. A caller's future resolves only after the
commit, so a call that returned is durable, exactly as with one transaction per call.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

#: most calls committed together (bounds the time a batch holds the write lock)
MAX_BATCH = 64


@dataclass
class _Call:
    tx: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    queued_at: float = field(default_factory=time.perf_counter)
    outcome: tuple[bool, Any] = (False, None)


class GroupCommitWriter:
    """One thread, one connection; ``submit`` runs ``tx(conn, *args)`` in the next batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="agl-sqlite-writer", daemon=True)
        self._thread.start()
        self.calls = 0
        self.batches = 0
        self.waits = 0
        self.wait_seconds = 0.0

    async def submit(self, tx: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put(_Call(tx, args, future))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self.engine.dispose()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(nxt)
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Call]) -> None:
        started = time.perf_counter()
        for call in batch:
            waited = started - call.queued_at
            if waited > 0.001:
                self.waits += 1
                self.wait_seconds += waited
        self.calls += len(batch)
        self.batches += 1
        try:
            with self.engine.connect() as conn, conn.begin():
                for call in batch:
                    if call.future.cancelled():
                        continue
                    try:
                        with conn.begin_nested():
                            call.outcome = (True, call.tx(conn, *call.args))
                    except Exception as exc:  # rolled back to its savepoint; the others go on
                        call.outcome = (False, exc)
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch was written
            log.warning("SQLite write batch of %d calls failed: %s", len(batch), exc)
            for call in batch:
                call.outcome = (False, exc)
        for call in batch:
            call.future.get_loop().call_soon_threadsafe(_settle, call.future, call.outcome)


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.cancelled():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
