"""The store and bus backends the conformance suites run over.

Each entry is a name and an async context manager factory yielding a started, empty backend.
A backend whose package is not installed is skipped with the pip command in the reason; CI
installs every package of the repository, so CI runs them all. Add yours here.
"""

from __future__ import annotations

import contextlib
import importlib.util
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


StoreFactory = Callable[[], contextlib.AbstractAsyncContextManager[Any]]

#: name → (factory, module that must be importable, pip hint)
STORE_BACKENDS: dict[str, tuple[StoreFactory, str | None, str]] = {
    "memory": (memory_store, None, ""),
    "http": (http_store, None, ""),
}

BUS_BACKENDS: dict[str, tuple[StoreFactory, str | None, str]] = {
    "memory": (memory_bus, None, ""),
}


def require(module: str | None, hint: str) -> None:
    if module is not None and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed ({hint})")
