"""Engines and pools for each database, with the settings from ``DB_POOL_*``.

PostgreSQL: one engine with a ``QueuePool`` (asyncio-adapted) of ``DB_POOL_SIZE`` connections
plus ``DB_MAX_OVERFLOW``; row locks let many writers work at once.

SQLite allows one writer at a time per file. Letting every pooled connection write would only
make them collide on the file lock and retry, so a SQLite store has two engines:

* a *writer* with exactly one connection; every transaction on it starts with
  ``BEGIN IMMEDIATE``, which takes the file's write lock up front (other processes wait up to
  ``DB_POOL_TIMEOUT`` for it instead of failing half-way), so a read-then-write such as
  dequeue is atomic across processes;
* a *reader* pool of ``DB_POOL_SIZE`` connections; in WAL mode readers never block the writer
  nor each other and see every committed write.

WAL with ``synchronous=NORMAL``: a committed transaction survives the process being killed (it
is in the WAL file); only an operating-system crash or power loss can drop the last few.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from .settings import SqlSettings
from .urls import is_memory


@dataclass
class PoolCounters:
    """What SQLAlchemy's pool does not count itself: how often and how long callers waited."""

    waits: int = 0
    wait_seconds: float = 0.0
    checkouts: int = 0


@dataclass
class Pools:
    """The engines of one store: ``writer`` for transactions that change data, ``reader`` for reads."""

    writer: AsyncEngine
    reader: AsyncEngine
    dialect: str
    counters: dict[str, PoolCounters] = field(default_factory=dict)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on error."""
        async with self._connect("writer", self.writer) as conn, conn.begin():
            yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read snapshot (one transaction, rolled back at the end)."""
        async with self._connect("reader", self.reader) as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _connect(self, role: str, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        counters = self.counters.setdefault(role, PoolCounters())
        pool: Any = engine.pool
        exhausted = isinstance(pool, AsyncAdaptedQueuePool) and pool.checkedout() >= pool.size() + max(
            pool._max_overflow, 0
        )
        start = time.perf_counter()
        async with engine.connect() as conn:
            counters.checkouts += 1
            if exhausted:
                counters.waits += 1
                counters.wait_seconds += time.perf_counter() - start
            yield conn

    def statistics(self) -> dict[str, Any]:
        roles = {"writer": self.writer} if self.writer is self.reader else {"writer": self.writer, "reader": self.reader}
        out: dict[str, Any] = {}
        for role, engine in roles.items():
            pool: Any = engine.pool
            counters = self.counters.get(role, PoolCounters())
            stats: dict[str, Any] = {"class": type(pool).__name__}
            if isinstance(pool, AsyncAdaptedQueuePool):
                stats.update(
                    size=pool.size(),
                    checked_out=pool.checkedout(),
                    checked_in=pool.checkedin(),
                    overflow=pool.overflow(),
                    max_overflow=pool._max_overflow,
                )
            stats.update(
                checkouts=counters.checkouts,
                waits=counters.waits,
                wait_seconds=round(counters.wait_seconds, 6),
            )
            out[role] = stats
        return out

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def create_pools(url: URL, settings: SqlSettings) -> Pools:
    if url.get_backend_name() == "postgresql":
        engine = create_async_engine(
            url,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
            pool_pre_ping=settings.db_pool_pre_ping,
        )
        return Pools(writer=engine, reader=engine, dialect="postgresql")
    if is_memory(url):
        # one in-memory database lives in one connection: the only one, for reads and writes
        engine = create_async_engine(url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0)
        _sqlite_events(engine, begin="BEGIN IMMEDIATE", busy_ms=0)
        return Pools(writer=engine, reader=engine, dialect="sqlite")
    busy_ms = int(settings.db_pool_timeout * 1000)
    writer = create_async_engine(
        url,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=settings.db_pool_pre_ping,
    )
    reader = create_async_engine(
        url,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=settings.db_pool_pre_ping,
    )
    _sqlite_events(writer, begin="BEGIN IMMEDIATE", busy_ms=busy_ms)
    _sqlite_events(reader, begin="BEGIN", busy_ms=busy_ms)
    return Pools(writer=writer, reader=reader, dialect="sqlite")


def _sqlite_events(engine: AsyncEngine, *, begin: str, busy_ms: int) -> None:
    """Pragmas per connection, and our own ``BEGIN`` (pysqlite's implicit one is deferred)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            f"PRAGMA busy_timeout={busy_ms}",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)
