"""Alembic environment: runs on the connection the store hands over (see ``migrate.py``).

The store opens the connection (with its pool, pragmas and, on PostgreSQL, an advisory lock so
two servers starting together migrate one after the other), so this file only configures
Alembic on it. The version table is ``agl_alembic_version``: it cannot clash with an
application's own Alembic history in the same database.
"""

from __future__ import annotations

from alembic import context

from agentlightning_sql.schema import metadata

VERSION_TABLE = "agl_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "agentlightning_sql migrations run through agentlightning_sql.migrate.upgrade(connection), "
        "which the store calls on start; the alembic command line is not wired up"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
