"""Hook implementations: the ``sqlite`` and ``postgresql`` store schemes.

Nothing heavy at import: the factory imports SQLAlchemy the first time a store is opened.
"""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def make_store(url: str) -> Any:
    from .store import SqlStore

    return SqlStore(url)


@hookimpl
def agl_register_stores(register: Register) -> None:
    register("sqlite", make_store, description="SQLite file via SQLAlchemy (the embedded default)")
    register("postgresql", make_store, description="PostgreSQL via SQLAlchemy + asyncpg")
    register("postgres", make_store, description="alias of postgresql")
