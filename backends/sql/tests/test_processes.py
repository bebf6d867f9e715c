"""Several real processes on one database: dequeue hands each rollout out once, and a wait in one
process sees rollouts finished by another (through the safety re-check: no shared bus)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agentlightning_sql.store import SqlStore

from agentlightning_core.bus.memory import InMemoryEventBus
from agentlightning_core.types import AttemptStatus, RolloutRequest, RolloutStatus

DEQUEUER = r"""
import asyncio, json, os, sys, time
from agentlightning_sql.store import SqlStore

async def main(url, go_file, name):
    async with SqlStore(url) as store:
        print("ready", flush=True)
        while not os.path.exists(go_file):
            await asyncio.sleep(0.01)
        taken = []

        async def worker(k):
            while True:
                got = await store.dequeue_rollout(f"{name}-{k}")
                if got is None:
                    return
                taken.append(got.rollout.rollout_id)
                await asyncio.sleep(0.02)  # "work", so the other process gets its turn even on a busy machine

        await asyncio.gather(*(worker(k) for k in range(8)))
        print(json.dumps(taken), flush=True)

asyncio.run(main(*sys.argv[1:]))
"""

WAITER = r"""
import asyncio, json, sys, time
from agentlightning_core.bus.memory import InMemoryEventBus
from agentlightning_sql.store import SqlStore

async def main(url, rollout_id):
    store = SqlStore(url)
    store.bus = InMemoryEventBus()  # sees only this process's events
    store.wait_recheck_interval = 0.3
    async with store:
        print("ready", flush=True)
        start = time.monotonic()
        done = await store.wait_for_rollouts([rollout_id], timeout=30)
        print(json.dumps({"statuses": [r.status.value for r in done], "waited": time.monotonic() - start}), flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"child did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc


@pytest.mark.slow
async def test_two_processes_never_get_the_same_rollout(db_url: str, tmp_path: Path) -> None:
    async with SqlStore(db_url) as store:
        enqueued = await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(300)])
    go = tmp_path / "go"
    procs = [_spawn(DEQUEUER, db_url, str(go), f"p{i}") for i in range(2)]
    go.touch()
    taken: list[list[str]] = []
    for proc in procs:
        out, err = await asyncio.to_thread(proc.communicate, timeout=120)
        assert proc.returncode == 0, err
        taken.append(json.loads(out.strip().splitlines()[-1]))
    every = [rid for part in taken for rid in part]
    assert len(every) == len(set(every)) == 300  # nobody got a rollout twice, none was lost
    assert set(every) == {r.rollout_id for r in enqueued}
    assert all(part for part in taken), "both processes should have dequeued (they raced)"
    async with SqlStore(db_url) as store:
        stats = await store.statistics()
    assert stats["rollouts"]["running"] == 300 and stats["attempts"]["total"] == 300


@pytest.mark.slow
async def test_wait_sees_a_rollout_finished_by_another_process(db_url: str) -> None:
    async with SqlStore(db_url) as store:
        rollout = await store.enqueue_rollout("t")
        got = await store.dequeue_rollout()
        assert got is not None
        waiter = _spawn(WAITER, db_url, rollout.rollout_id)
        await asyncio.sleep(0.2)
        await store.update_attempt(rollout.rollout_id, got.attempt.attempt_id, status=AttemptStatus.SUCCEEDED)
    out, err = await asyncio.to_thread(waiter.communicate, timeout=60)
    assert waiter.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["statuses"] == ["succeeded"]
    assert result["waited"] < 3  # the 0.3 s re-check noticed it, not the 30 s timeout


async def test_wait_wakes_on_the_bus_event_not_the_recheck(sqlite_url: str) -> None:
    store = SqlStore(sqlite_url)
    store.bus = InMemoryEventBus()
    store.wait_recheck_interval = 60  # only an event can wake it in time
    async with store:
        rollouts = await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(50)])
        attempts = [await store.dequeue_rollout() for _ in rollouts]

        async def finish() -> None:
            await asyncio.sleep(0.1)
            for got in attempts:
                assert got is not None
                await store.update_attempt(
                    got.rollout.rollout_id, got.attempt.attempt_id, status=AttemptStatus.SUCCEEDED
                )

        start = time.monotonic()
        task = asyncio.create_task(finish())
        done = await store.wait_for_rollouts([r.rollout_id for r in rollouts], timeout=30)
        await task
    assert [r.rollout_id for r in done] == [r.rollout_id for r in rollouts]
    assert all(r.status is RolloutStatus.SUCCEEDED for r in done)
    assert time.monotonic() - start < 5
