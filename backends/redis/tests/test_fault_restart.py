"""Fault test with real processes: a private Redis is stopped and started (SIGTERM, then SIGKILL)
while events flow; the bus recovers without restarting this process.

Documented guarantee (README "Guarantees"): with Redis persistence on, every event whose
``publish()`` returned is delivered to every subscription open across the restart, once, in
publish order; a publish made while Redis is down waits for it (up to ``retry_seconds``) instead
of failing. The test counts what was published, delivered and lost, and prints the counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import pytest
from agentlightning_redis import RedisEventBus
from agentlightning_redis.testing import PrivateRedis

from agentlightning_core.errors import BackendUnavailableError
from agentlightning_core.types import Event

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("redis-server") is None,
        reason="needs the redis-server binary for a private server (apt-get install redis-server)",
    ),
]

TOPIC = "rollouts"
RATE = 200  # events per second
DOWN_SECONDS = 1.5


async def _drain(sub, expected: int, seconds: float) -> list[Event]:
    got: list[Event] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while len(got) < expected and loop.time() < deadline:
        event = await sub.get(timeout=max(0.01, deadline - loop.time()))
        if event is not None:
            got.append(event)
    return got


async def test_redis_restarts_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        async with RedisEventBus(server.url, prefix="fault", retry_seconds=30) as bus:
            plain = bus.subscribe([TOPIC])
            durable = bus.subscribe([TOPIC], durable="fault-watcher")
            await plain.ready()
            await durable.ready()
            published: list[int] = []
            failed: list[int] = []
            phase = [0]  # 0 before the first stop, 1 between the restarts, 2 after the last
            per_phase = [0, 0, 0]
            stop = asyncio.Event()

            async def publisher() -> None:
                i = 0
                while not stop.is_set():
                    try:
                        await bus.emit(TOPIC, "seq", {"i": i})
                        published.append(i)
                        per_phase[phase[0]] += 1
                    except BackendUnavailableError:
                        failed.append(i)
                    i += 1
                    await asyncio.sleep(1 / RATE)

            task = asyncio.create_task(publisher())
            for kill in (False, True):
                await asyncio.sleep(2.5)  # longer than the longest reconnect backoff (2 s)
                await asyncio.to_thread(server.stop, kill=kill)
                await asyncio.sleep(DOWN_SECONDS)
                await asyncio.to_thread(server.start)
                phase[0] += 1
            await asyncio.sleep(1.0)
            stop.set()
            await task

            results = {}
            for name, sub in (("plain", plain), ("durable", durable)):
                got = await _drain(sub, len(published), 30)
                seq = [e.payload["i"] for e in got]
                lost = sorted(set(published) - set(seq))
                results[name] = (len(seq), lost)
                print(
                    f"redis fault test [{name}]: published {len(published)}, failed {len(failed)}, "
                    f"delivered {len(seq)}, duplicates {len(seq) - len(set(seq))}, lost {len(lost)}, "
                    f"reconnects {sub.reconnects}"
                )
                assert seq == published, f"{name}: lost {lost[:10]}... or out of order"
                assert sub.reconnects >= 1  # both outages may fall in one reconnect episode
            assert failed == []  # publishes waited the outages out
            assert min(per_phase) > 0, per_phase  # events really flowed around both restarts
            for sub in (plain, durable):
                await sub.close()
    finally:
        with contextlib.suppress(Exception):
            server.stop(kill=True)
