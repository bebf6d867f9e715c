"""The rabbitmq plugin is installed, registered through its entry point, and opened by name."""

from __future__ import annotations

import os
import uuid

import pytest
from agentlightning_rabbitmq import RabbitMQEventBus

from agentlightning_core.bus import open_event_bus
from agentlightning_core.errors import BackendUnavailableError
from agentlightning_core.plugin_manager import AglPluginManager

HOST = os.environ.get("AGL_TEST_RABBITMQ_HOST", "127.0.0.1")


def test_entry_point_registers_the_rabbitmq_bus() -> None:
    manager = AglPluginManager()
    assert "rabbitmq" in manager.registry("agl_register_event_buses")
    info = next(i for i in manager.plugin_infos() if i.name == "rabbitmq")
    assert info.distribution == "agentlightning-rabbitmq"
    assert info.registered["event bus"] == ["rabbitmq"]


async def test_event_bus_backend_rabbitmq_opens_it_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = f"agl-test.{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EVENT_BUS_BACKEND", "rabbitmq")
    for name, value in {"HOST": HOST, "PORT": "5672", "USERNAME": "guest", "PASSWORD": "guest"}.items():
        monkeypatch.setenv(f"RABBITMQ_{name}", value)
    monkeypatch.setenv("RABBITMQ_VHOST", "/")
    monkeypatch.setenv("RABBITMQ_EXCHANGE", exchange)
    bus = await open_event_bus(manager=AglPluginManager())
    try:
        assert isinstance(bus, RabbitMQEventBus) and bus.exchange_name == exchange
    finally:
        if isinstance(bus, RabbitMQEventBus):
            await bus.delete_exchange()
        await bus.close()


async def test_unreachable_broker_raises_naming_the_settings(
    monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> None:
    monkeypatch.setenv("RABBITMQ_HOST", "127.0.0.1")
    monkeypatch.setenv("RABBITMQ_PORT", str(unused_tcp_port))
    monkeypatch.setenv("RABBITMQ_CONNECT_TIMEOUT", "2")
    with pytest.raises(BackendUnavailableError, match="RABBITMQ_HOST"):
        await open_event_bus("rabbitmq", manager=AglPluginManager())
