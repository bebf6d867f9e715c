"""Helpers for tests that reuse one database across many stores (the conformance suite)."""

from __future__ import annotations

from sqlalchemy import Connection

from .schema import ALL_TABLES
from .store import SqlStore


def _delete_all(conn: Connection) -> None:
    for table in reversed(ALL_TABLES):
        conn.execute(table.delete())


async def delete_all_rows(store: SqlStore) -> None:
    """Empty every table of a started store, keeping the schema (much faster than re-creating it)."""
    await store.pools.write(_delete_all)
