"""Fixtures for the core runtime tests: a started in-memory store with a fast watchdog and a bus,
and a helper that runs a Runner in the background for the length of a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentlightning_core.bus.memory import InMemoryEventBus
from agentlightning_core.runner import Runner
from agentlightning_core.store.memory import InMemoryStore


@pytest.fixture
async def store() -> AsyncIterator[InMemoryStore]:
    store = InMemoryStore(watchdog_interval=0.02)
    store.bus = InMemoryEventBus()
    async with store:
        yield store


@contextlib.asynccontextmanager
async def running(runner: Runner, grace: float = 5.0) -> AsyncIterator[asyncio.Task[Any]]:
    """Run ``runner`` in a task; stop it (and surface its errors) when the block ends."""
    task = asyncio.create_task(runner.run())
    try:
        yield task
    finally:
        runner.stop(grace=grace)
        await asyncio.wait_for(task, 30)
