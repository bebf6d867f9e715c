"""``gather`` that leaves nothing running behind it.

``asyncio.gather`` re-raises the first failure but lets the other awaitables run on, orphaned —
a crashed APO round would keep calling the critic and enqueueing rollouts after ``run`` returned.
(``asyncio.TaskGroup`` does this properly but needs Python 3.11.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def gather_or_cancel(*awaitables: Awaitable[T]) -> list[T]:
    """Await all; on the first failure (or cancellation) cancel the rest, wait for them, re-raise."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
