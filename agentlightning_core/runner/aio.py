"""A cancellation-safe wait on an ``asyncio.Event`` with a timeout.

``asyncio.wait_for`` on Python 3.10/3.11 can swallow a cancellation that arrives while the awaited
event is being set (CPython gh-86296); a runner loop that swallows its cancellation keeps running
after it was told to stop. ``asyncio.wait`` never cancels or hides anything, so we build on it.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; True if it was set."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
    finally:
        if not waiter.done():
            waiter.cancel()
    return bool(done)
