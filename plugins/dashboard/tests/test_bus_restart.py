"""The live stream through a Redis restart: a real ``agl serve --bus redis`` and a private
``redis-server`` (its own port and data directory) that the test kills and starts again."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from agentlightning_core.client import HttpStore

from .live_run import start_redis as start_private_redis

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis-server)"
    ),
]

TOKEN = "bus-restart-token"
REDIS_PORT = 18191  # this plugin's test range: 18190-18199
AGL = str(Path(sys.executable).with_name("agl"))


def start_redis(directory: Path) -> subprocess.Popen[bytes]:
    return start_private_redis(directory, REDIS_PORT)


async def events(lines: AsyncIterator[str], until: str, timeout: float) -> list[str]:
    """SSE event names read until ``until`` (included)."""
    seen: list[str] = []

    async def read() -> None:
        async for line in lines:
            if line.startswith("event: "):
                seen.append(line[len("event: ") :])
                if seen[-1] == until:
                    return

    await asyncio.wait_for(read(), timeout)
    return seen


async def test_the_stream_says_when_the_bus_is_down_and_when_it_is_back(tmp_path: Path) -> None:
    redis = start_redis(tmp_path)
    env = {
        **os.environ,
        "AGL_SERVER_TOKEN": TOKEN,
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}",
        "REDIS_BUS_PREFIX": "i19-dashboard-test",
        "AGL_NO_PLUGIN_COMMANDS": "1",
    }
    server = await asyncio.create_subprocess_exec(
        AGL, "serve", "--store", "memory://", "--bus", "redis", "--port", "0",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = (await asyncio.wait_for(server.stdout.readline(), 60)).decode().rsplit(" ", 1)[1].strip()
        async with (
            HttpStore(url, token=TOKEN) as store,
            httpx.AsyncClient(base_url=url, timeout=60) as client,
        ):
            assert (await client.post("/dashboard/login", data={"token": TOKEN})).status_code == 303
            async with client.stream("GET", "/dashboard/api/stream?page=rollouts") as stream:
                lines = stream.aiter_lines()
                assert await events(lines, "live", 30) == ["live"]
                await store.enqueue_rollout({"before": True})
                assert await events(lines, "change", 30) == ["change"]

                redis.send_signal(signal.SIGKILL)
                redis.wait(10)
                during = await store.enqueue_rollout({"during": True})  # the store answers; its event waits
                assert await events(lines, "bus-down", 30) == ["bus-down"]

                redis = start_redis(tmp_path)
                after = await events(lines, "change", 60)
                assert after[0] == "live" and after[-1] == "change"
                page = (await client.get("/dashboard/api/rollouts")).json()
                assert during.rollout_id in [r["rollout_id"] for r in page["items"]]
    finally:
        if server.returncode is None:
            server.terminate()
            await asyncio.wait_for(server.wait(), 30)
        redis.kill()
        redis.wait(10)
