"""Schema migrations, run by the store on start: automatic and idempotent.

Alembic's scripts live in ``agentlightning_sql/migrations``. ``upgrade`` runs inside the write
transaction the store opened: on PostgreSQL that transaction first takes an advisory lock, on
SQLite it is ``BEGIN IMMEDIATE``; either way two processes starting on one database migrate one
after the other, and the second finds nothing to do.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

#: a path, not "package:folder": editable installs break importlib.resources for namespace dirs
SCRIPT_LOCATION = str(Path(__file__).resolve().parent / "migrations")
VERSION_TABLE = "agl_alembic_version"
#: key of the PostgreSQL advisory lock held while migrating ("agl-migr" as an integer)
ADVISORY_LOCK_KEY = 0x61676C2D6D696772


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the database to ``revision``; a no-op (one query) when it is already there."""
    if revision == "head" and current_revision(connection) == head_revision():
        return
    command.upgrade(_config(connection), revision)
