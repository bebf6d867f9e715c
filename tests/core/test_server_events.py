"""The event stream (SSE) and history routes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from agentlightning_core.types import AttemptStatus, PromptTemplate

from .server_helpers import Served, served


@pytest.fixture
async def server() -> AsyncIterator[Served]:
    async with served() as s:
        yield s


async def read_events(response: aiohttp.ClientResponse, n: int, timeout: float = 5) -> list[dict[str, Any]]:
    """The next ``n`` SSE messages as {"id", "event", "data"} (comments skipped)."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while len(events) < n:
        line = (
            (await asyncio.wait_for(response.content.readline(), deadline - time.monotonic()))
            .decode()
            .rstrip("\n")
        )
        if not line:
            if current:
                events.append(current)
                current = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        current[key] = orjson.loads(value) if key == "data" else value
    return events


async def test_stream_delivers_events_of_the_chosen_topics_in_order(server: Served) -> None:
    async with aiohttp.ClientSession(headers=server.auth) as session:
        async with session.get(f"{server.url}/v1/events", params={"topic": "rollouts"}) as response:
            assert response.status == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            first = await response.content.readline()
            assert first.startswith(b": subscribed to rollouts")
            rollout = await server.client.enqueue_rollout("t")
            got = await server.client.dequeue_rollout("w")
            assert got is not None
            await server.client.update_attempt(
                rollout.rollout_id, got.attempt.attempt_id, status=AttemptStatus.SUCCEEDED
            )
            events = await read_events(response, 3)
    assert [e["event"] for e in events] == [
        "rollout.enqueued",
        "rollout.status_changed",
        "rollout.status_changed",
    ]
    assert [e["data"]["payload"]["status"] for e in events] == ["queued", "running", "succeeded"]
    assert all(e["data"]["topic"] == "rollouts" for e in events)  # no attempt events
    assert events[0]["id"] == events[0]["data"]["event_id"]


async def test_stream_of_several_topics(server: Served) -> None:
    async with aiohttp.ClientSession(headers=server.auth) as session:
        async with session.get(f"{server.url}/v1/events?topic=attempts,resources") as response:
            await response.content.readline()
            await server.client.enqueue_rollout("t")
            await server.client.dequeue_rollout("w")
            await server.client.add_resources({"p": PromptTemplate(template="x")})
            events = await read_events(response, 2)
    assert [e["event"] for e in events] == ["attempt.started", "resources.updated"]


async def test_history_route(server: Served) -> None:
    await server.client.enqueue_rollout("a")
    await server.client.enqueue_rollout("b")
    async with aiohttp.ClientSession(headers=server.auth) as session:
        async with session.get(f"{server.url}/v1/events/history/rollouts?limit=1") as response:
            (event,) = await response.json()
    assert event["type"] == "rollout.enqueued"


async def test_idle_stream_sends_keepalive_comments() -> None:
    from fastapi import FastAPI

    from agentlightning_core.bus.memory import InMemoryEventBus
    from agentlightning_core.server.lifecycle import ShutdownSignal
    from agentlightning_core.server.routes_events import events_router
    from agentlightning_core.server.run import serve_in_background

    app = FastAPI()
    app.include_router(events_router(InMemoryEventBus(), ShutdownSignal(), keepalive=0.1))
    async with serve_in_background(app) as url, aiohttp.ClientSession() as session:
        async with session.get(f"{url}/v1/events") as response:
            lines = [await asyncio.wait_for(response.content.readline(), 2) for _ in range(4)]
    assert lines[0].startswith(b": subscribed to rollouts,attempts,resources,workers")
    assert b": keepalive\n" in lines


async def test_open_stream_ends_at_shutdown() -> None:
    from agentlightning_core.plugin_manager import AglPluginManager
    from agentlightning_core.server import create_app, serve_in_background
    from agentlightning_core.store.memory import InMemoryStore

    store = InMemoryStore()
    app = create_app(store, token="", manager=AglPluginManager(load_entry_points=False))
    async with store, aiohttp.ClientSession() as session:
        async with serve_in_background(app) as url:
            response = await session.get(f"{url}/v1/events")
            await response.content.readline()
            start = time.monotonic()
        assert time.monotonic() - start < 2  # the open stream did not hold the server up
        assert await asyncio.wait_for(response.content.read(), 2) in (b"", b"\n")
        response.release()
