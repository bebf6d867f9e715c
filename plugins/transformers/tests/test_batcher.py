"""The batcher's bookkeeping with a scripted run function (no model): joins and early answers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from agentlightning_transformers.batcher import Batcher
from agentlightning_transformers.generate import SampleRequest


def _rows(tag: int, n: int) -> list[SampleRequest]:
    return [SampleRequest(prompt_ids=[tag, i], max_new_tokens=1) for i in range(n)]


async def test_requests_arriving_during_a_batch_join_it_and_are_answered_as_they_finish() -> None:
    started = threading.Event()
    release = threading.Event()
    batches: list[list[int]] = []

    def run(
        rows: list[SampleRequest],
        join: Callable[[int], list[SampleRequest]],
        finished: Callable[[int, str], None],
    ) -> list[str]:
        """Reports the first job's rows, then waits for a second job to arrive and join."""
        batches.append([r.prompt_ids[0] for r in rows])
        finished(0, "a0")
        started.set()
        assert release.wait(10)
        joined = join(len(rows) - 1)
        everything = rows + joined
        for i in range(1, len(everything)):
            finished(i, f"{everything[i].prompt_ids[0]}:{i}")
        return []  # everything was reported through finished()

    batcher: Batcher[str] = Batcher(run, window_s=0.001, max_wait_s=0.01)
    try:
        first = asyncio.ensure_future(batcher.submit(_rows(1, 2)))
        await asyncio.to_thread(started.wait, 10)
        second = asyncio.ensure_future(batcher.submit(_rows(2, 3)))
        await asyncio.sleep(0.05)  # the second job is pending while the batch runs
        release.set()
        assert await asyncio.wait_for(first, 10) == ["a0", "1:1"]
        assert await asyncio.wait_for(second, 10) == ["2:2", "2:3", "2:4"]
        assert batches == [[1, 1]]  # one batch: the second job joined it
    finally:
        batcher.close()


async def test_joins_respect_max_batch_size_and_a_closed_gate() -> None:
    gate = {"open": False}
    seen: list[int] = []
    go = threading.Event()

    def run(
        rows: list[SampleRequest], join: Callable[[int], list[SampleRequest]], finished: object
    ) -> list[str]:
        assert go.wait(10)
        seen.append(len(join(len(rows))))  # gate closed: nothing joins
        gate["open"] = True
        seen.append(len(join(len(rows))))  # 3 active + 2 would exceed max_batch_size=4
        return [f"r{i}" for i in range(len(rows))]

    batcher: Batcher[str] = Batcher(
        run, max_batch_size=4, window_s=0.001, max_wait_s=0.01, accept=lambda: gate["open"]
    )
    try:
        first = asyncio.ensure_future(batcher.submit(_rows(1, 3)))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(batcher.submit(_rows(2, 2)))
        await asyncio.sleep(0.05)
        go.set()
        assert await asyncio.wait_for(first, 10) == ["r0", "r1", "r2"]
        assert seen == [0, 0]
        assert await asyncio.wait_for(second, 10) == ["r0", "r1"]  # its own, later batch
    finally:
        batcher.close()


async def test_an_error_reaches_every_job_not_yet_answered() -> None:
    def run(rows: list[SampleRequest], join: object, finished: Callable[[int, str], None]) -> list[str]:
        finished(0, "ok")
        raise RuntimeError("decode failed")

    batcher: Batcher[str] = Batcher(run, window_s=0.02, max_wait_s=0.2)
    try:
        a = asyncio.ensure_future(batcher.submit(_rows(1, 1)))
        b = asyncio.ensure_future(batcher.submit(_rows(2, 1)))
        assert await asyncio.wait_for(a, 10) == ["ok"]
        try:
            await asyncio.wait_for(b, 10)
        except RuntimeError as exc:
            assert "decode failed" in str(exc)
        else:
            raise AssertionError("the second job should have failed")
    finally:
        batcher.close()
