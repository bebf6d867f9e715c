"""Running transactions: engines, pools and ``DB_POOL_*`` settings for each database.

The store's transactions are plain synchronous SQLAlchemy Core functions of a ``Connection``
(``transactions.py``); a ``Pools`` object runs them the cheapest way for its database.

PostgreSQL: an async engine (asyncpg) with a ``QueuePool`` (asyncio-adapted) of ``DB_POOL_SIZE``
connections plus ``DB_MAX_OVERFLOW``; a transaction runs through ``run_sync``, each statement one
network round trip, and row locks let many writers work at once. Reads, and writes that are one
statement, run in autocommit (no ``BEGIN``/``COMMIT`` round trips).

SQLite: the file is local, so the cost per statement is not I/O but the hop between the event
loop and a thread. The whole transaction therefore runs in one worker thread on the standard
``sqlite3`` driver (one hop per call, not one per statement). SQLite allows one writer at a time,
so there is exactly one writer connection, driven by one thread that commits the calls queued at
the same moment together (``sqlite_writer.py``); each write transaction starts with ``BEGIN
IMMEDIATE``, which takes the file's write lock up front (another process waits up to
``DB_POOL_TIMEOUT`` for it instead of failing half-way), so a read-then-write such as dequeue is
atomic across processes. Reads use a pool of ``DB_POOL_SIZE`` connections and threads in
autocommit; in WAL mode they never block the writer nor each other and see every committed write.

WAL with ``synchronous=NORMAL``: a committed transaction survives the process being killed (it is
in the WAL file); only an operating-system crash or power loss can drop the last few.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from .db_errors import store_errors
from .settings import SqlSettings
from .sqlite_writer import GroupCommitWriter
from .urls import is_memory

T = TypeVar("T")
Tx = Callable[..., T]


@dataclass
class PoolCounters:
    """What SQLAlchemy's pool does not count itself: how often and how long callers waited."""

    checkouts: int = 0
    waits: int = 0
    wait_seconds: float = 0.0

    def checkout(self, start: float, exhausted: bool) -> None:
        self.checkouts += 1
        if exhausted:
            self.waits += 1
            self.wait_seconds += time.perf_counter() - start


def _exhausted(pool: Any) -> bool:
    return bool(pool.checkedout() >= pool.size() + max(pool._max_overflow, 0))


def _pool_statistics(pool: Any, counters: PoolCounters) -> dict[str, Any]:
    return {
        "class": type(pool).__name__,
        "size": pool.size(),
        "checked_out": pool.checkedout(),
        "checked_in": pool.checkedin(),
        "overflow": max(pool.overflow(), 0),
        "max_overflow": pool._max_overflow,
        "checkouts": counters.checkouts,
        "waits": counters.waits,
        "wait_seconds": round(counters.wait_seconds, 6),
    }


class Pools:
    """Runs a store's transactions. ``write`` commits (or rolls back on error); ``read`` does not write."""

    dialect: str

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    async def write(self, tx: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def read(self, tx: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def single(self, tx: Callable[..., T], *args: Any) -> T:
        """A write whose transaction is one statement: PostgreSQL runs it in autocommit (no
        ``BEGIN``/``COMMIT`` round trips); SQLite like any write."""
        return await self.write(tx, *args)

    def statistics(self) -> dict[str, Any]:
        raise NotImplementedError

    async def dispose(self) -> None:
        raise NotImplementedError


class PostgresPools(Pools):
    """``DB_POOL_SIZE`` warm connections first, ``DB_MAX_OVERFLOW`` more only when they stay busy.

    A store call holds a connection for a millisecond or two. Under many concurrent calls,
    SQLAlchemy's pool would open an overflow connection for every call that finds the pool
    momentarily empty and close it on return: each such call pays a new connection (TCP, TLS
    negotiation, authentication) and prepares its statements again (measured: one new connection
    per two rollouts, a third of the server's time). So calls first queue for one of the
    ``DB_POOL_SIZE`` warm connections; a call that waited ``OVERFLOW_AFTER_SECONDS`` for one (the
    connections are held long, not just busy) goes on to the pool's overflow.
    """

    dialect = "postgresql"

    def __init__(self, url: URL, settings: SqlSettings) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
            pool_pre_ping=False,  # DB_POOL_PRE_PING: see _ping_idle_connections
        )
        if settings.db_pool_pre_ping:
            _ping_idle_connections(self.engine.sync_engine)
        self.counters = PoolCounters()
        self._warm = asyncio.Semaphore(settings.db_pool_size)

    @contextlib.asynccontextmanager
    async def _connection(self, autocommit: bool) -> AsyncIterator[AsyncConnection]:
        start = time.perf_counter()
        warm = True
        if self._warm.locked():
            try:
                await asyncio.wait_for(self._warm.acquire(), OVERFLOW_AFTER_SECONDS)
            except asyncio.TimeoutError:
                warm = False
        else:
            await self._warm.acquire()
        try:
            pool = self.engine.pool
            exhausted = _exhausted(pool)
            async with self.engine.connect() as conn:
                self.counters.checkout(start, exhausted or time.perf_counter() - start > 0.001)
                if autocommit:
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
        finally:
            if warm:
                self._warm.release()

    async def write(self, tx: Callable[..., T], *args: Any) -> T:
        with store_errors():
            async with self._connection(autocommit=False) as conn, conn.begin():
                return await conn.run_sync(tx, *args)

    async def read(self, tx: Callable[..., T], *args: Any) -> T:
        with store_errors():
            async with self._connection(autocommit=True) as conn:
                return await conn.run_sync(tx, *args)

    async def single(self, tx: Callable[..., T], *args: Any) -> T:
        return await self.read(tx, *args)  # autocommit: the statement is its own transaction

    def statistics(self) -> dict[str, Any]:
        return {"writer": _pool_statistics(self.engine.pool, self.counters)}

    async def dispose(self) -> None:
        await self.engine.dispose()


class SqlitePools(Pools):
    dialect = "sqlite"

    def __init__(self, url: URL, settings: SqlSettings) -> None:
        sync_url = url.set(drivername="sqlite")
        busy_ms = int(settings.db_pool_timeout * 1000)
        common = {"pool_timeout": settings.db_pool_timeout, "connect_args": {"check_same_thread": False}}
        writer = create_engine(sync_url, poolclass=QueuePool, pool_size=1, max_overflow=0, **common)
        _sqlite_events(writer, begin="BEGIN IMMEDIATE", busy_ms=busy_ms)
        self.writer = GroupCommitWriter(writer)
        self.memory = is_memory(url)
        self.reader = create_engine(
            sync_url,
            poolclass=QueuePool,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            **common,
        )
        # readers run in autocommit: each statement sees the latest commit, no BEGIN/ROLLBACK
        _sqlite_events(self.reader, begin=None, busy_ms=busy_ms)
        self._reader_threads = ThreadPoolExecutor(
            settings.db_pool_size + settings.db_max_overflow, thread_name_prefix="agl-sqlite-reader"
        )
        self.read_counters = PoolCounters()
        self._lock = threading.Lock()

    async def write(self, tx: Callable[..., T], *args: Any) -> T:
        with store_errors():
            result: T = await self.writer.submit(tx, args)
        return result

    async def read(self, tx: Callable[..., T], *args: Any) -> T:
        if self.memory:  # one in-memory database lives in the writer's one connection
            return await self.write(tx, *args)
        loop = asyncio.get_running_loop()
        call = functools.partial(self._read_in_thread, tx, args, time.perf_counter())
        with store_errors():
            return await loop.run_in_executor(self._reader_threads, call)

    def _read_in_thread(self, tx: Callable[..., T], args: Any, queued_at: float) -> T:
        waited = time.perf_counter() - queued_at
        with self._lock:
            self.read_counters.checkouts += 1
            if waited > 0.001:  # every reader thread was busy
                self.read_counters.waits += 1
                self.read_counters.wait_seconds += waited
        with self.reader.connect() as conn:
            return tx(conn, *args)

    def statistics(self) -> dict[str, Any]:
        writer = self.writer
        return {
            "writer": {
                **_pool_statistics(
                    writer.engine.pool, PoolCounters(writer.calls, writer.waits, writer.wait_seconds)
                ),
                "commits": writer.batches,
            },
            "reader": _pool_statistics(self.reader.pool, self.read_counters),
        }

    async def dispose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.writer.close)
        self.reader.dispose()
        self._reader_threads.shutdown(wait=True)


#: a PostgreSQL call waits this long for a warm connection before it may open an overflow one
OVERFLOW_AFTER_SECONDS = 1.0
#: a connection returned to the pool more recently than this is known to work: no ping
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """``DB_POOL_PRE_PING``: test a connection before use if it sat idle in the pool.

    SQLAlchemy's own pre-ping tests every checkout, one extra round trip per store call; on the
    hot path connections come back within milliseconds, and one that was just used is alive. A
    connection idle for ``PING_AFTER_IDLE_SECONDS`` (where a server restart or a dropped link
    shows) is pinged, and replaced if the ping fails.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["agl_checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get("agl_checked_in")
        if checked_in is None or time.monotonic() - checked_in < PING_AFTER_IDLE_SECONDS:
            return  # just connected, or just used
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise DisconnectionError(f"pre-ping failed: {error}") from error


def create_pools(url: URL, settings: SqlSettings) -> Pools:
    if url.get_backend_name() == "postgresql":
        return PostgresPools(url, settings)
    return SqlitePools(url, settings)


def _enable_wal(cursor: Any, busy_ms: int) -> None:
    """``journal_mode=WAL``, retried while another connection holds the file.

    Switching the journal mode needs the database to itself, and SQLite may answer "database is
    locked" at once instead of waiting on the busy timeout (seen when three stores start on a new
    file together: CI failed in ``test_concurrent_starts_on_a_new_database_both_succeed``). WAL
    persists in the file, so once any connection has switched it, the others find it set.
    """
    import sqlite3

    deadline = time.monotonic() + max(busy_ms, 1000) / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _sqlite_events(engine: Engine, *, begin: str | None, busy_ms: int) -> None:
    """Pragmas per connection, and our own ``BEGIN`` (pysqlite's implicit one is deferred and late)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver
        cursor = dbapi_connection.cursor()
        # busy_timeout first: it governs the pragmas after it too
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        _enable_wal(cursor, busy_ms)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if begin is not None:

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)
