"""The redis plugin is installed, registered through its entry point, and opened by name."""

from __future__ import annotations

import os
import uuid

import pytest
from agentlightning_redis import RedisEventBus

from agentlightning_core.bus import open_event_bus
from agentlightning_core.plugin_manager import AglPluginManager

REDIS_URL = os.environ.get("AGL_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def test_entry_point_registers_the_redis_bus() -> None:
    manager = AglPluginManager()
    registry = manager.registry("agl_register_event_buses")
    assert "redis" in registry
    info = next(i for i in manager.plugin_infos() if i.name == "redis")
    assert info.distribution == "agentlightning-redis"
    assert info.registered["event bus"] == ["redis"]


async def test_event_bus_backend_redis_opens_it_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"agl-test:{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EVENT_BUS_BACKEND", "redis")
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("REDIS_BUS_PREFIX", prefix)
    monkeypatch.setenv("REDIS_BUS_HISTORY", "7")
    bus = await open_event_bus(manager=AglPluginManager())
    try:
        assert isinstance(bus, RedisEventBus)
        assert (bus.prefix, bus.history_size) == (prefix, 7)
    finally:
        await bus.close()


async def test_default_is_redis_when_it_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENT_BUS_BACKEND", raising=False)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    bus = await open_event_bus(manager=AglPluginManager())
    try:
        assert bus.name == "redis"
    finally:
        await bus.close()


async def test_unreachable_redis_falls_back_to_memory_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, unused_tcp_port: int
) -> None:
    monkeypatch.delenv("EVENT_BUS_BACKEND", raising=False)
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{unused_tcp_port}")
    with caplog.at_level("INFO", logger="agentlightning_core.bus.open"):
        bus = await open_event_bus(manager=AglPluginManager())
    await bus.close()
    assert bus.name == "memory"
    lines = [r.getMessage() for r in caplog.records if r.name == "agentlightning_core.bus.open"]
    assert len(lines) == 1 and "in-process bus" in lines[0] and str(unused_tcp_port) in lines[0]


async def test_redis_asked_for_by_name_but_down_raises(
    monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> None:
    from agentlightning_core.errors import BackendUnavailableError

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{unused_tcp_port}")
    with pytest.raises(BackendUnavailableError, match="REDIS_URL"):
        await open_event_bus("redis", manager=AglPluginManager())
