"""A store keeps working when its Redis bus is down: the write stands, the event is logged as
lost, and events flow again once Redis is back (same process, same bus object)."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest
from agentlightning_redis import RedisEventBus
from agentlightning_redis.testing import PrivateRedis

from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.types import EventType, Topic

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="needs the redis-server binary for a private server (apt-get install redis-server)",
)


async def test_store_write_survives_a_dead_bus_and_events_resume(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        async with RedisEventBus(server.url, prefix="down", retry_seconds=0.5) as bus:
            store = InMemoryStore()
            store.bus = bus
            async with store, bus.subscribe([Topic.ROLLOUTS]) as sub:
                server.stop()
                with caplog.at_level("WARNING", logger="agentlightning_core.store.base"):
                    lost = await store.enqueue_rollout({"n": 1})
                assert (await store.get_rollout(lost.rollout_id)) is not None
                assert any("could not publish rollout.enqueued" in r.getMessage() for r in caplog.records)
                server.start()
                kept = await store.enqueue_rollout({"n": 2})
                event = await sub.get(timeout=15)
                assert event is not None and event.type == EventType.ROLLOUT_ENQUEUED
                assert event.payload["rollout_id"] == kept.rollout_id
    finally:
        with contextlib.suppress(Exception):
            server.stop(kill=True)
