"""What the Redis bus promises beyond the shared suite: bounded history, prefix isolation,
a resend that never shows twice, validated settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from agentlightning_redis import RedisBusSettings, RedisEventBus
from agentlightning_redis.streams import FIELD_UID
from pydantic import ValidationError

from agentlightning_core.bus import open_event_bus
from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.types import Event

REDIS_URL = os.environ.get("AGL_TEST_REDIS_URL", "redis://127.0.0.1:6379")


async def _drop(bus: RedisEventBus) -> None:
    keys = [k async for k in bus.redis.scan_iter(match=f"{bus.prefix}:*")]
    if keys:
        await bus.redis.delete(*keys)


@pytest.fixture
async def bus() -> AsyncIterator[RedisEventBus]:
    async with RedisEventBus(REDIS_URL, prefix=f"agl-test:{uuid.uuid4().hex[:12]}", history_size=5) as b:
        yield b
        await _drop(b)


async def test_history_keeps_exactly_the_configured_number(bus: RedisEventBus) -> None:
    for i in range(12):
        await bus.emit("t", "h", {"i": i})
    assert await bus.redis.xlen(bus.key("t")) == 5
    assert [e.payload["i"] for e in await bus.get_event_history("t", limit=100)] == [7, 8, 9, 10, 11]


async def test_buses_with_different_prefixes_do_not_see_each_other(bus: RedisEventBus) -> None:
    async with RedisEventBus(REDIS_URL, prefix=f"agl-test:{uuid.uuid4().hex[:12]}") as other:
        try:
            async with other.subscribe(["t"]) as sub:
                await bus.emit("t", "mine", {})
                assert await sub.get(timeout=0.3) is None
                assert await other.get_event_history("t") == []
        finally:
            await _drop(other)


async def test_resend_after_a_lost_reply_is_stored_once(bus: RedisEventBus) -> None:
    """The retry path (used after a connection error) finds the first copy by publisher id."""
    event = Event(topic="t", type="once", payload={"n": 1})
    data = bus.encode(event)
    key = bus.key("t")
    first = await bus.redis.xadd(key, {FIELD_UID: event.event_id, b"d": data})
    await bus.emit("t", "other", {})
    again = await bus._add_once(keys=[key], args=[event.event_id, data, bus.history_size, 1000])
    assert again == first
    assert await bus.redis.xlen(key) == 2


async def test_event_ids_are_stream_ids_in_order(bus: RedisEventBus) -> None:
    sent = [await bus.emit("t", "o", {}) for _ in range(3)]
    ids = [tuple(map(int, e.event_id.split("-"))) for e in sent]
    assert ids == sorted(ids) and len(set(ids)) == 3


async def test_since_that_is_not_a_stream_id_is_refused_by_name(bus: RedisEventBus) -> None:
    with pytest.raises(InvalidRequestError, match="since="):
        await bus.get_event_history("t", since="not-an-id")


async def test_cleared_topic_keeps_ordering_for_a_live_subscriber(bus: RedisEventBus) -> None:
    async with bus.subscribe(["t"]) as sub:
        await bus.emit("t", "a", {})
        await bus.clear_event_history("t")
        await bus.emit("t", "b", {})
        got = [await sub.get(timeout=5) for _ in range(2)]
    assert [e.type for e in got if e is not None] == ["a", "b"]


def test_settings_name_the_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_BUS_HISTORY", "0")
    with pytest.raises(ValidationError, match="redis_bus_history"):
        RedisBusSettings()
    monkeypatch.setenv("REDIS_BUS_HISTORY", "10")
    monkeypatch.setenv("REDIS_URL", "http://localhost:6379")
    with pytest.raises(ValidationError, match="REDIS_URL"):
        RedisBusSettings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("REDIS_BUS_HISTORY", "0"), ("REDIS_BUS_RETRY_SECONDS", "soon"), ("REDIS_URL", "http://localhost:6379")],
)
async def test_bad_environment_fails_naming_the_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an operator sees: the variable as they wrote it, not pydantic's field name."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidRequestError, match=f"{variable}={value!r}"):
        RedisEventBus.from_env()
    with pytest.raises(InvalidRequestError, match=variable):
        await open_event_bus("redis", manager=AglPluginManager())


async def test_durable_group_lost_on_the_server_is_recreated(bus: RedisEventBus) -> None:
    """What a Redis restart without persistence does to a consumer group: it disappears."""
    async with bus.subscribe(["t"], durable="lost-group") as sub:
        await bus.emit("t", "before", {})
        assert (await sub.get(timeout=5)) is not None
        await bus.redis.delete(bus.key("t"))  # stream and group gone
        for _ in range(50):  # the reader notices NOGROUP on its next blocking read (<= 5 s)
            await bus.emit("t", "after", {})
            if (event := await sub.get(timeout=0.2)) is not None:
                break
        assert event is not None and event.type == "after"
