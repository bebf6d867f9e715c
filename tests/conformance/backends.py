"""The store and bus backends the conformance suites run over.

Each entry is a name and an async context manager factory yielding a started, empty backend.
A backend whose package is not installed is skipped with the pip command in the reason; CI
installs every package of the repository, so CI runs them all. Add yours here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
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
        store.watchdog_store = backing  # type: ignore[attr-defined]  # the suite sets its default limit
        yield store


@contextlib.asynccontextmanager
async def memory_bus() -> AsyncIterator[Any]:
    async with InMemoryEventBus() as bus:
        yield bus


#: a throwaway Fernet key: the SQL store refuses to store an LLM api_key without one
TEST_ENCRYPTION_KEY = "Cj0Vsm6oQ3l3vTl8S0mBMb6i2yq0f0y8T0H8m8h2u5s="

#: run once at the end of the session (``conftest.py``): drop throwaway databases, remove files
SESSION_CLEANUPS: list[Callable[[], None]] = []


class _SqlDatabase:
    """One database per backend per test session: migrated by the first store, emptied between tests."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.url: str | None = None

    async def ensure(self) -> str:
        if self.url is not None:
            return self.url
        if self.kind == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="agl-conformance-"))
            self.url = f"sqlite:///{folder / 'store.db'}"
            SESSION_CLEANUPS.append(lambda: _remove_tree(folder))
        else:
            import asyncpg  # the [postgres] extra of agentlightning-sql

            name = f"agl_test_{uuid.uuid4().hex[:12]}"
            conn = await asyncpg.connect(PG_ADMIN_DSN)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            self.url = f"{PG_BASE_URL}/{name}"
            SESSION_CLEANUPS.append(lambda: _drop_pg_database(name))
        return self.url


PG_BASE_URL = os.environ.get("AGL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
PG_ADMIN_DSN = f"{PG_BASE_URL}/postgres"
_SQL_DATABASES = {"sqlite": _SqlDatabase("sqlite"), "postgresql": _SqlDatabase("postgresql")}


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _drop_pg_database(name: str) -> None:
    import asyncio

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def _sql_store(kind: str) -> Callable[[], contextlib.AbstractAsyncContextManager[Any]]:
    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[Any]:
        from agentlightning_sql.store import SqlStore
        from agentlightning_sql.testing import delete_all_rows

        url = await _SQL_DATABASES[kind].ensure()
        store = SqlStore(url, encryption_key=TEST_ENCRYPTION_KEY, watchdog_interval=WATCHDOG_INTERVAL)
        store.bus = InMemoryEventBus()  # waits wake on events, as in a server
        async with store:
            await delete_all_rows(store)
            yield store

    return factory


@contextlib.asynccontextmanager
async def mongodb_store() -> AsyncIterator[Any]:
    """MongoDB through mongomock-motor, or a real server when ``AGL_TEST_MONGODB_URL`` is set."""
    from agentlightning_mongodb.store import MongoStore

    real_url = os.environ.get("AGL_TEST_MONGODB_URL")
    database = f"agl_test_{uuid.uuid4().hex[:12]}"
    if real_url:
        store = MongoStore(real_url, database=database, watchdog_interval=WATCHDOG_INTERVAL)
    else:
        from mongomock_motor import AsyncMongoMockClient

        client: Any = AsyncMongoMockClient()
        store = MongoStore("mongodb://mongomock", database=database, client=client)
        store.watchdog_interval = WATCHDOG_INTERVAL
    store.bus = InMemoryEventBus()
    async with store:
        try:
            yield store
        finally:
            if real_url:
                await store.drop_database()


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
    "sqlite": (_sql_store("sqlite"), "agentlightning_sql", "pip install agentlightning-sql"),
    "postgresql": (
        _sql_store("postgresql"),
        "asyncpg",
        'pip install "agentlightning-sql[postgres]" (needs PostgreSQL at 127.0.0.1:5432)',
    ),
    "mongodb": (mongodb_store, "mongomock_motor", 'pip install "agentlightning-mongodb[test]"'),
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
