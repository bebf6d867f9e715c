"""Shared pieces of the server, client and proxy tests: a real server on an ephemeral port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from agentlightning_core.bus.memory import InMemoryEventBus
from agentlightning_core.client import HttpStore
from agentlightning_core.engine import LLMEngine
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.server import create_app, serve_in_background
from agentlightning_core.store.memory import InMemoryStore

TOKEN = "test-token-0123456789"


@dataclass
class Served:
    url: str
    app: FastAPI
    store: InMemoryStore
    bus: InMemoryEventBus
    client: HttpStore

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def served(
    *,
    engine: LLMEngine | None = None,
    token: str = TOKEN,
    manager: AglPluginManager | None = None,
    store: InMemoryStore | None = None,
    **kwargs: Any,
) -> AsyncIterator[Served]:
    store = store or InMemoryStore(watchdog_interval=0.05)
    bus = InMemoryEventBus()
    store.bus = bus
    app = create_app(
        store,
        engine=engine,
        bus=bus,
        token=token,
        manager=manager or AglPluginManager(load_entry_points=False),
        **kwargs,
    )
    async with store, serve_in_background(app) as url, HttpStore(url, token=token) as client:
        yield Served(url, app, store, bus, client)
