"""A Redis outage stalls nothing: store operations answer at once while the bus is down, their
events wait in the store's outbox and arrive in order when Redis is back, a full outbox drops
its oldest events and counts them, waiters poll the store, and the log says it twice: once when
the bus goes, once when it is back (no traceback). Each test owns its redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from agentlightning_redis import RedisEventBus
from agentlightning_redis.testing import PrivateRedis

from agentlightning_core.store.base import LightningStore
from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.types import AttemptStatus, EventType, Rollout, RolloutStatus, Topic

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="needs the redis-server binary for a private server (apt-get install redis-server)",
)


@pytest.fixture
def redis_server(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server  # type: ignore[misc]
    finally:
        with contextlib.suppress(Exception):
            server.stop(kill=True)


class PollingStore(InMemoryStore):
    """The memory store with the base class's ``wait_for_rollouts`` (bus events plus polling),
    which the SQL and MongoDB stores use: the memory store's own wait needs no bus at all."""

    async def wait_for_rollouts(
        self, rollout_ids: Sequence[str], timeout: float | None = None
    ) -> list[Rollout]:
        return await LightningStore.wait_for_rollouts(self, rollout_ids, timeout)


async def test_operations_answer_at_once_and_events_arrive_in_order_after_the_outage(
    redis_server: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    # a publish waits up to 10 s for Redis (the default): no store call may wait on that
    async with RedisEventBus(redis_server.url, prefix="down", retry_seconds=10.0) as bus:
        store = InMemoryStore()
        store.bus = bus
        async with store, bus.subscribe([Topic.ROLLOUTS]) as sub:
            first = await store.enqueue_rollout({"n": 0})
            assert (await sub.get(timeout=5)) is not None
            with caplog.at_level(logging.INFO):
                redis_server.stop(kill=True)
                start = time.monotonic()
                during = [await store.enqueue_rollout({"n": i}) for i in range(1, 6)]
                taken = await store.dequeue_rollout("w")
                assert taken is not None and taken.rollout.rollout_id == first.rollout_id
                await store.update_attempt(
                    first.rollout_id, taken.attempt.attempt_id, status=AttemptStatus.SUCCEEDED
                )
                assert time.monotonic() - start < 1.0  # seven store calls, none waited on the bus
                await asyncio.sleep(12)  # past the bus's own retry: the outbox has seen a failure
                assert store.outbox is not None and store.outbox.in_outage
                redis_server.start()
                assert await store.outbox.flush(30)
            got = []
            while (event := await sub.get(timeout=2)) is not None:
                got.append(event)
    enqueued = [e.payload["rollout_id"] for e in got if e.type == EventType.ROLLOUT_ENQUEUED]
    assert enqueued == [r.rollout_id for r in during]  # nothing lost, in order
    assert (EventType.ROLLOUT_STATUS_CHANGED, "succeeded") in {(e.type, e.payload["status"]) for e in got}
    outbox_lines = [r for r in caplog.records if r.name == "agentlightning_core.bus.outbox"]
    assert [("unavailable" in r.getMessage(), "is back" in r.getMessage()) for r in outbox_lines] == [
        (True, False),
        (False, True),
    ]
    assert all(r.exc_info is None for r in caplog.records if r.name.startswith("agentlightning_core"))
    assert store.outbox is None or store.outbox.dropped == 0


async def test_a_full_outbox_drops_the_oldest_and_counts_them(redis_server: PrivateRedis) -> None:
    async with RedisEventBus(redis_server.url, prefix="full", retry_seconds=0.2) as bus:
        store = InMemoryStore()
        store.outbox_max_events = 3
        store.bus = bus
        async with store, bus.subscribe([Topic.ROLLOUTS]) as sub:
            redis_server.stop(kill=True)
            rollouts = [await store.enqueue_rollout(i) for i in range(10)]
            assert store.outbox is not None
            assert store.outbox.dropped == 7 and store.outbox.pending == 3
            redis_server.start()
            assert await store.outbox.flush(30)
            got = []
            while (event := await sub.get(timeout=2)) is not None:
                got.append(event.payload["rollout_id"])
    assert got == [r.rollout_id for r in rollouts[-3:]]  # the newest three, in order
    assert (await store.query_rollouts()).total == 10  # every write stands


async def test_waiters_poll_the_store_while_the_bus_is_down(redis_server: PrivateRedis) -> None:
    async with RedisEventBus(redis_server.url, prefix="poll", retry_seconds=0.2) as bus:
        store = PollingStore()
        store.wait_recheck_interval = 30.0  # only the outage's polling can wake the waiter in time
        store.bus = bus
        async with store:
            rollout = await store.enqueue_rollout("t")
            taken = await store.dequeue_rollout("w")
            assert taken is not None
            redis_server.stop(kill=True)
            await store.enqueue_rollout("trigger")  # a publish fails: the store knows the bus is down
            for _ in range(100):
                if store.bus_in_outage:
                    break
                await asyncio.sleep(0.05)
            assert store.bus_in_outage
            waiter = asyncio.create_task(store.wait_for_rollouts([rollout.rollout_id], timeout=20))
            await asyncio.sleep(0.2)
            start = time.monotonic()
            await store.update_attempt(
                rollout.rollout_id, taken.attempt.attempt_id, status=AttemptStatus.SUCCEEDED
            )
            (done,) = await waiter
            assert done.status is RolloutStatus.SUCCEEDED
            assert time.monotonic() - start < 2.0
            redis_server.start()
