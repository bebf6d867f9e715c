"""Hook implementations: the ``sqlite`` and ``postgresql`` store schemes.

Nothing heavy at import: the factory imports SQLAlchemy the first time a store is opened.
"""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import MissingDependencyError, missing, needs

DISTRIBUTION = "agentlightning-sql"
#: what the store imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {
    "sqlalchemy": None,
    "alembic": None,
    "aiosqlite": None,
    "cryptography": None,
    "pydantic_settings": None,
    "orjson": None,
    "asyncpg": "postgres",
}
#: the async driver each scheme needs: SQLAlchemy imports it only when it first connects
SCHEME_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "postgres": "asyncpg"}


@needs(DISTRIBUTION, DRIVERS, what="the SQL store", eager=["sqlalchemy", "alembic"])
def make_store(url: str) -> Any:
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    driver = SCHEME_DRIVERS.get(scheme)
    if driver is not None and missing(driver):
        raise MissingDependencyError(f"store {scheme!r}", driver, DISTRIBUTION, DRIVERS[driver])
    from .store import SqlStore

    return SqlStore(url)


@hookimpl
def agl_register_stores(register: Register) -> None:
    register("sqlite", make_store, description="SQLite file via SQLAlchemy (the embedded default)")
    register("postgresql", make_store, description="PostgreSQL via SQLAlchemy + asyncpg")
    register("postgres", make_store, description="alias of postgresql")
