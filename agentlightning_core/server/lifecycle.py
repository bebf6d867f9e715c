"""A shutdown signal long-lived responses watch (event streams, long polls).

uvicorn waits for open responses before it stops; an event stream never ends on its own, so
:func:`~agentlightning_core.server.run.serve_in_background` trips this signal first and every
stream and long poll returns promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class ShutdownSignal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()

    async def race(self, future: asyncio.Future[Any]) -> bool:
        """Wait for ``future`` or shutdown; True if ``future`` finished (its result is ready).

        On shutdown ``future`` is cancelled. Exceptions of ``future`` propagate.
        """
        stopper = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait({future, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            future.cancel()
            raise
        finally:
            stopper.cancel()
        if future.done():
            future.result()  # re-raise its exception here
            return True
        future.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await future
        return False
