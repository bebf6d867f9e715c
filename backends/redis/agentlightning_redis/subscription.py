"""A subscription reading Redis streams with blocking XREAD on its own connection.

It remembers the last entry id it saw per topic, so after a lost connection it re-reads from
exactly there: nothing published meanwhile is skipped (while it is still within the history
bound) and nothing is handed out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentlightning_core.bus.backoff import Backoff
from agentlightning_core.bus.base import QueueSubscription
from agentlightning_core.errors import BackendUnavailableError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .streams import decode_entry, parse_stream_id

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .bus import RedisEventBus

log = logging.getLogger(__name__)

#: how long one XREAD blocks on the server; bounds how late a silently dead link is noticed
BLOCK_MS = 5_000
READ_BATCH = 500
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisSubscription(QueueSubscription):
    def __init__(self, bus: RedisEventBus, topics: Sequence[str]) -> None:
        super().__init__(topics)
        self._bus = bus
        self._keys = {bus.key(t): t for t in dict.fromkeys(topics)}
        self._positions: dict[str, str] = {}
        self._last: dict[str, tuple[int, int]] = {}
        self._client: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        #: times the reader lost the server and came back (tests and operators read it)
        self.reconnects = 0

    async def ready(self) -> None:
        async with self._start_lock:
            if self._task is not None or self.closed:
                return
            client = self._bus.new_client(socket_timeout=BLOCK_MS / 1000 + 10)
            try:
                positions = await self._bus.with_retry(lambda: self._current_positions(client), "subscribe")
            except BaseException:
                await client.aclose()
                raise
            self._client = client
            self._positions = positions
            self._last = {k: parse_stream_id(v) for k, v in positions.items()}
            self._task = asyncio.create_task(self._read_loop(), name=f"redis-bus-subscription-{self.topics}")
            self._bus.subscriptions.add(self)

    async def _current_positions(self, client: Redis) -> dict[str, str]:
        """The id of the newest entry of each topic now: events after it are ours."""
        async with client.pipeline(transaction=False) as pipe:
            for key in self._keys:
                pipe.xrevrange(key, "+", "-", count=1)
            replies = await pipe.execute()
        positions = {}
        for key, reply in zip(self._keys, replies, strict=True):
            positions[key] = reply[0][0].decode() if reply else "0-0"
        return positions

    async def get(self, timeout: float | None = None) -> Any:
        if self._task is None and not self.closed:
            await self.ready()
        return await super().get(timeout)

    async def _read_loop(self) -> None:
        assert self._client is not None
        backoff = Backoff()
        lost_since: float | None = None
        loop = asyncio.get_running_loop()
        while not self.closed:
            try:
                reply = await self._client.xread(self._positions, count=READ_BATCH, block=BLOCK_MS)
            except CONNECTION_ERRORS as exc:
                if self.closed:
                    return
                if lost_since is None:
                    lost_since = loop.time()
                    log.warning("redis bus: subscription to %s lost the server (%s); reconnecting", self.topics, exc)
                await asyncio.sleep(backoff.next())
                continue
            if lost_since is not None:
                self.reconnects += 1
                log.warning(
                    "redis bus: subscription to %s reconnected after %.1fs; resuming after the last event seen",
                    self.topics,
                    loop.time() - lost_since,
                )
                lost_since = None
            backoff.reset()
            for raw_key, entries in reply or ():
                key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
                for entry_id, fields in entries:
                    position = parse_stream_id(entry_id)
                    if position <= self._last.get(key, (0, 0)):
                        continue  # never hand out an entry twice, whatever the server sends
                    self._last[key] = position
                    self._positions[key] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    try:
                        event = decode_entry(entry_id, fields)
                    except Exception:  # a foreign or corrupt entry must not kill the subscription
                        log.warning("redis bus: skipped undecodable entry %r on %s", entry_id, key, exc_info=True)
                        continue
                    self.queue.put_nowait(event)

    async def close(self) -> None:
        if self.closed:
            return
        await super().close()
        self._bus.subscriptions.discard(self)
        if self._task is not None:
            # redis-py can swallow the cancellation of a blocked XREAD (the read then runs to its
            # BLOCK time and the loop goes on), so the reader also stops on ``closed`` once its
            # socket is dropped here.
            self._task.cancel()
            if self._client is not None:
                with contextlib.suppress(*CONNECTION_ERRORS):
                    await self._client.connection_pool.disconnect(inuse_connections=True)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=BLOCK_MS / 1000 + 1)
        if self._client is not None:
            with contextlib.suppress(*CONNECTION_ERRORS):
                await self._client.aclose()

    def __repr__(self) -> str:
        return f"RedisSubscription({self.topics!r})"


def unavailable(url: str, what: str, exc: BaseException) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"redis bus: {what} failed because Redis at {url} is unreachable ({exc}); start it or point "
        "REDIS_URL at a running server"
    )
