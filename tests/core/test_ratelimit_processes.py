"""Two real server processes sharing one Redis admit exactly the limit per window between them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

SERVER = Path(__file__).with_name("ratelimit_server.py")
# a window long enough for a burst to fit even on a loaded 2-core machine (measured: 90
# requests take 0.5-4.5 s there), so "exactly LIMIT per window" is the right claim
LIMIT, WINDOW = 30, 10


@pytest.fixture
def two_servers() -> Iterator[list[str]]:
    env = {
        **os.environ,
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_MAX_REQUESTS": str(LIMIT),
        "RATE_LIMIT_WINDOW_SECONDS": str(WINDOW),
        "RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/0",
        "RATE_LIMIT_KEY_PREFIX": f"agl-test-rl-{uuid.uuid4().hex[:10]}",
    }
    procs = [
        subprocess.Popen([sys.executable, str(SERVER)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        urls = []
        for proc in procs:
            assert proc.stdout is not None
            urls.append(f"http://127.0.0.1:{proc.stdout.readline().strip()}")
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


async def _wait_ready(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            async with session.get(f"{url}/health") as resp:  # never limited
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


async def _burst(
    session: aiohttp.ClientSession, urls: list[str], n: int
) -> tuple[list[int], set[int], float]:
    async def one(i: int) -> tuple[int, int]:
        async with session.get(f"{urls[i % 2]}/work", headers={"Authorization": "Bearer shared"}) as resp:
            body = await resp.json()
            return resp.status, (body.get("pid", 0) if resp.status == 200 else 0)

    start = time.monotonic()
    results = await asyncio.gather(*(one(i) for i in range(n)))
    return [s for s, _ in results], {p for _, p in results if p}, time.monotonic() - start


@pytest.mark.slow
async def test_two_processes_admit_exactly_the_limit_per_window(two_servers: list[str]) -> None:
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        for url in two_servers:
            await _wait_ready(session, url)
        for round_ in range(2):
            statuses, pids, took = await _burst(session, two_servers, 3 * LIMIT)
            # the burst must fit in one window for "exactly" to be the right claim
            assert took < WINDOW, f"burst took {took:.1f}s, longer than the {WINDOW}s window"
            assert statuses.count(200) == LIMIT, (round_, statuses.count(200))
            assert statuses.count(429) == 2 * LIMIT
            # each process got 1.5 x LIMIT requests, so with counts of their own they would have
            # admitted 2 x LIMIT together; exactly LIMIT means the count is shared (which process admitted them
            # depends on arrival order, so `pids` may hold one or both)
            assert 1 <= len(pids) <= 2
            if round_ == 0:
                await asyncio.sleep(WINDOW + 0.2)  # the next window starts with a full budget
