"""The store and bus backends the conformance suites run over.

Each entry is a name and an async context manager factory yielding a started, empty backend.
A backend whose package is not installed is skipped with the pip command in the reason; CI
installs every package of the repository, so CI runs them all. Add yours here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from agentlightning_core.bus.memory import InMemoryEventBus
from agentlightning_core.store.memory import InMemoryStore

WATCHDOG_INTERVAL = 0.05


@contextlib.asynccontextmanager
async def memory_store() -> AsyncIterator[Any]:
    store = InMemoryStore(watchdog_interval=WATCHDOG_INTERVAL)
    async with store:
        yield store


@contextlib.asynccontextmanager
async def http_store() -> AsyncIterator[Any]:
    """The HTTP client against an in-process server (ephemeral port) over a memory store."""
    from agentlightning_core.client import HttpStore
    from agentlightning_core.plugin_manager import AglPluginManager
    from agentlightning_core.server import create_app, serve_in_background

    backing = InMemoryStore(watchdog_interval=WATCHDOG_INTERVAL)
    app = create_app(backing, token="conformance-token", manager=AglPluginManager(load_entry_points=False))
    async with backing, serve_in_background(app) as url, HttpStore(url, token="conformance-token") as store:
        yield store


@contextlib.asynccontextmanager
async def memory_bus() -> AsyncIterator[Any]:
    async with InMemoryEventBus() as bus:
        yield bus


@contextlib.asynccontextmanager
async def redis_bus() -> AsyncIterator[Any]:
    """The Redis bus on the shared server, under a key prefix no other test uses; its keys are
    deleted afterwards."""
    from agentlightning_redis import RedisEventBus

    prefix = f"agl-test:{uuid.uuid4().hex[:12]}"
    url = os.environ.get("AGL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    async with RedisEventBus(url, prefix=prefix, history_size=1000, retry_seconds=2.0) as bus:
        try:
            yield bus
        finally:
            keys = [k async for k in bus.redis.scan_iter(match=f"{prefix}:*")]
            if keys:
                await bus.redis.delete(*keys)


@contextlib.asynccontextmanager
async def rabbitmq_bus() -> AsyncIterator[Any]:
    """The RabbitMQ bus on the shared broker, on an exchange of its own; the exchange and any
    durable queue the test made are deleted afterwards."""
    from agentlightning_rabbitmq import RabbitMQEventBus, RabbitMQSettings

    settings = RabbitMQSettings(
        host=os.environ.get("AGL_TEST_RABBITMQ_HOST", "127.0.0.1"),
        exchange=f"agl-test.{uuid.uuid4().hex[:12]}",
        retry_seconds=2.0,
    )
    async with RabbitMQEventBus(settings) as bus:
        try:
            yield bus
        finally:
            for name in bus.durable_names:
                await bus.delete_durable(name)
            await bus.delete_exchange()


StoreFactory = Callable[[], contextlib.AbstractAsyncContextManager[Any]]

#: name → (factory, module that must be importable, pip hint)
STORE_BACKENDS: dict[str, tuple[StoreFactory, str | None, str]] = {
    "memory": (memory_store, None, ""),
    "http": (http_store, None, ""),
}

BUS_BACKENDS: dict[str, tuple[StoreFactory, str | None, str]] = {
    "memory": (memory_bus, None, ""),
    "redis": (redis_bus, "agentlightning_redis", "pip install agentlightning-redis"),
    "rabbitmq": (rabbitmq_bus, "agentlightning_rabbitmq", "pip install agentlightning-rabbitmq"),
}


def require(module: str | None, hint: str) -> None:
    if module is not None and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed ({hint})")
