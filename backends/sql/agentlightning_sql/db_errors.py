"""Database errors as the store's own errors: 4xx for a bad value, 503 for a database that is
unreachable or failing, never a driver's message with SQL in it.

The API models bound every sized column (``agentlightning_core.types.limits``), so a request
should never get here with a value too long; a direct Python caller, or a database whose
columns an operator changed, still gets a clean error that names the problem.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from sqlalchemy import exc

from agentlightning_core.errors import (
    AglError,
    BackendUnavailableError,
    ConflictError,
    InvalidRequestError,
)

log = logging.getLogger(__name__)


def driver_message(error: BaseException) -> str:
    """The database's own words (e.g. ``value too long for type character varying(256)``),
    without the statement or parameters SQLAlchemy appends, and without the driver's class."""
    orig = getattr(error, "orig", None)
    text = str(orig) if orig is not None else str(error)
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    if first.startswith("<class ") and ">: " in first:  # asyncpg through SQLAlchemy's adapter
        first = first.split(">: ", 1)[1]
    return first[:300]


def sqlstate(error: exc.DBAPIError) -> str:
    """PostgreSQL's SQLSTATE of the error ('' when unknown). SQLAlchemy's asyncpg adapter raises
    a plain ``DBAPIError`` for most errors; the code says what kind it is (class 22: a bad value,
    class 23: a constraint)."""
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return ""


def translate(error: BaseException) -> AglError | None:
    """The store error for a database error, or ``None`` for anything else."""
    code = sqlstate(error) if isinstance(error, exc.DBAPIError) else ""
    if isinstance(error, exc.DataError) or code.startswith("22"):
        return InvalidRequestError(f"the database refused a value: {driver_message(error)}")
    if isinstance(error, exc.IntegrityError) or code.startswith("23"):
        return ConflictError(f"the database refused the change: {driver_message(error)}")
    if isinstance(error, exc.DBAPIError | exc.TimeoutError | exc.DisconnectionError | ConnectionError):
        return BackendUnavailableError(
            f"the database is unavailable or failing ({type(error).__name__}); try again"
        )
    return None


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Re-raise database errors as store errors (the original stays in ``__cause__`` and the log)."""
    try:
        yield
    except AglError:
        raise
    except Exception as error:
        mapped = translate(error)
        if mapped is None:
            raise
        log.warning("database error: %s", error)
        raise mapped from error
