"""DB_POOL_* settings: defaults, validation naming the variable, applied to the pools, reported."""

from __future__ import annotations

import pytest
from agentlightning_sql.settings import load_sql_settings
from agentlightning_sql.store import SqlStore

from agentlightning_core.errors import InvalidRequestError


def test_defaults() -> None:
    settings = load_sql_settings()
    assert (
        settings.db_pool_size,
        settings.db_max_overflow,
        settings.db_pool_timeout,
        settings.db_pool_recycle,
        settings.db_pool_pre_ping,
    ) == (10, 20, 30, 3600, True)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DB_POOL_SIZE", "zero"),
        ("DB_POOL_SIZE", "0"),
        ("DB_MAX_OVERFLOW", "-1"),
        ("DB_POOL_TIMEOUT", "0"),
        ("DB_POOL_RECYCLE", "soon"),
        ("DB_POOL_PRE_PING", "maybe"),
    ],
)
def test_bad_value_names_the_variable(variable: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidRequestError, match=variable) as info:
        SqlStore("sqlite:///:memory:")
    assert repr(value) in str(info.value)


async def test_postgres_pool_uses_settings_and_reports_statistics(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "3")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "2")
    async with SqlStore(pg_url) as store:
        await store.enqueue_rollout("x")
        pool = (await store.statistics())["pool"]
    assert pool["writer"]["class"] == "AsyncAdaptedQueuePool"
    assert pool["writer"]["size"] == 3 and pool["writer"]["max_overflow"] == 2
    assert pool["writer"]["checkouts"] >= 2
    assert {"checked_out", "overflow", "waits"} <= set(pool["writer"])


async def test_sqlite_has_one_writer_and_a_reader_pool(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "4")
    async with SqlStore(sqlite_url) as store:
        pool = (await store.statistics())["pool"]
        mode = await store.pools.read(lambda conn: conn.exec_driver_sql("PRAGMA journal_mode").scalar_one())
    assert (
        pool["writer"]["size"] == 1 and pool["writer"]["max_overflow"] == 0 and pool["writer"]["commits"] >= 1
    )
    assert pool["reader"]["size"] == 4
    assert mode == "wal"


async def test_pool_waits_are_counted(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setenv("DB_POOL_SIZE", "1")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "0")
    async with SqlStore(pg_url) as store:
        await asyncio.gather(*(store.enqueue_rollout(i) for i in range(10)))
        pool = (await store.statistics())["pool"]["writer"]
    assert pool["waits"] >= 1 and pool["wait_seconds"] >= 0


async def _terminate_backends(url: str) -> None:
    import asyncpg

    from .conftest import PG_BASE_URL

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(f"{PG_BASE_URL}/postgres")
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("pre_ping", [True, False])
async def test_pre_ping_replaces_a_connection_the_server_dropped(
    pg_url: str, pre_ping: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentlightning_sql import engine

    monkeypatch.setattr(engine, "PING_AFTER_IDLE_SECONDS", 0.0)
    monkeypatch.setenv("DB_POOL_PRE_PING", str(pre_ping).lower())
    monkeypatch.setenv("DB_POOL_SIZE", "1")
    async with SqlStore(pg_url) as store:
        await store.enqueue_rollout("before")
        await _terminate_backends(pg_url)  # e.g. a database restart while the pool sat idle
        if pre_ping:
            assert (await store.query_rollouts()).total == 1
        else:
            with pytest.raises(Exception):  # noqa: B017  (asyncpg's error for a dead link varies)
                await store.query_rollouts()
