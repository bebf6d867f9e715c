"""Databases for the sql plugin's own tests: a SQLite file in tmp_path, and a throwaway
PostgreSQL database on the local server (created and dropped per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

PG_BASE_URL = os.environ.get("AGL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
KEY = "Cj0Vsm6oQ3l3vTl8S0mBMb6i2yq0f0y8T0H8m8h2u5s="


async def create_pg_database() -> tuple[str, str]:
    import asyncpg

    name = f"agl_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(f"{PG_BASE_URL}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, f"{PG_BASE_URL}/{name}"


async def drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{PG_BASE_URL}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    name, url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    name, url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(name)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "DATABASE_URL",
        "AGL_ENCRYPTION_KEY",
        "DB_POOL_SIZE",
        "DB_MAX_OVERFLOW",
        "DB_POOL_TIMEOUT",
        "DB_POOL_RECYCLE",
        "DB_POOL_PRE_PING",
    ):
        monkeypatch.delenv(var, raising=False)
