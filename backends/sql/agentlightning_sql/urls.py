"""From the user's URL to the SQLAlchemy async URL.

Users write ``sqlite:///agentlightning.db`` or ``postgresql://user@host/db``; SQLAlchemy's async
engine needs a driver (``+aiosqlite``, ``+asyncpg``). A URL that already names a driver is kept.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

from agentlightning_core.errors import InvalidRequestError

ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "postgres": "asyncpg"}


def async_url(url: str) -> URL:
    """``sqlite:///x.db`` → ``sqlite+aiosqlite:///x.db``; ``postgresql://`` → ``postgresql+asyncpg://``."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise InvalidRequestError(f"DATABASE_URL {url!r} is not a valid database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        parsed = parsed.set(drivername="postgresql")
        backend = "postgresql"
    if backend not in ("sqlite", "postgresql"):
        raise InvalidRequestError(
            f"the sql store handles sqlite:// and postgresql:// URLs, not {backend!r} ({url!r})"
        )
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername=f"{backend}+{ASYNC_DRIVERS[backend]}")
    if backend == "sqlite" and not is_memory(parsed):
        folder = Path(parsed.database or "").expanduser().resolve().parent
        if not folder.is_dir():
            raise InvalidRequestError(
                f"the SQLite file's folder {str(folder)!r} does not exist; create it or change DATABASE_URL"
            )
    return parsed


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def redacted(url: URL) -> str:
    return url.render_as_string(hide_password=True)
