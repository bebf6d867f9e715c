"""Agent Lightning store on SQLite (the embedded default) or PostgreSQL, through SQLAlchemy 2 async.

Importing this package is cheap; SQLAlchemy is imported by :mod:`agentlightning_sql.store`,
which the plugin's factory loads on first use.
"""

__all__ = ["SqlStore"]


def __getattr__(name: str) -> object:
    if name == "SqlStore":
        from .store import SqlStore

        return SqlStore
    raise AttributeError(name)
