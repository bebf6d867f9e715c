"""Retrying store calls that fail for reasons that may pass (a network blip, a restarting server).

A runner must not drop an attempt's outcome because one HTTP request failed; it must also not
retry forever, because the store's watchdog will end the attempt anyway if the runner stays
silent. Errors that say the request itself is wrong (conflict, not found, invalid) are final.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    NotSupportedError,
    PayloadTooLargeError,
    PluginNotFoundError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: errors about the request itself: retrying cannot help
FINAL_ERRORS: tuple[type[BaseException], ...] = (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    InvalidRequestError,
    NotSupportedError,
    PayloadTooLargeError,
    PluginNotFoundError,
    TypeError,
)


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying (connection errors, 5xx, timeouts)."""
    return isinstance(exc, Exception) and not isinstance(exc, FINAL_ERRORS)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    tries: int = 5,
    first_delay: float = 0.1,
    max_delay: float = 2.0,
) -> T:
    """Await ``call()``; on a transient error wait (doubling from ``first_delay``) and try again,
    at most ``tries`` times in all. The last error, or any final error, is raised."""
    delay = first_delay
    for attempt in range(1, tries + 1):
        try:
            return await call()
        except Exception as exc:
            if not is_transient(exc) or attempt == tries:
                raise
            log.warning(
                "%s failed (%s: %s); retry %d/%d in %.1fs",
                what,
                type(exc).__name__,
                exc,
                attempt,
                tries - 1,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")  # pragma: no cover
