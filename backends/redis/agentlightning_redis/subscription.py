"""A subscription reading Redis streams with blocking reads on its own connection.

A plain subscription remembers the last entry id it saw per topic, so after a lost connection
it re-reads from exactly there: nothing published meanwhile is skipped (while it is still within
the history bound) and nothing is handed out twice.

A durable one reads through a consumer group named after it (XREADGROUP), as a consumer of its
own: the group's position lives on the server, so events published while no subscription of
that name is open wait for the next one, and open subscriptions of one name split the events.
An entry is acknowledged (XACK) when ``get()`` hands it out. On close, entries delivered to it
but not handed out are parked on the group's consumer ``NAME.parked`` and the next subscription
of the name claims them first; entries of a subscriber that died without closing are claimed by
the next opener once they have been idle ``STALE_MS``. So durable delivery is at least once, and
the entry id tells repeats apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agentlightning_core.bus.backoff import Backoff
from agentlightning_core.bus.base import QueueSubscription
from agentlightning_core.errors import BackendUnavailableError
from agentlightning_core.types import Event

from .streams import FIELD_DATA, decode_entry, parse_stream_id

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .bus import RedisEventBus

log = logging.getLogger(__name__)

#: how long one XREAD blocks on the server; bounds how late a silently dead link is noticed
BLOCK_MS = 5_000
#: idle time after which a dead durable consumer's unacknowledged entries are taken over
STALE_MS = 60_000
READ_BATCH = 500
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisSubscription(QueueSubscription):
    def __init__(self, bus: RedisEventBus, topics: Sequence[str], durable: str | None = None) -> None:
        super().__init__(topics)
        self._bus = bus
        self.durable = durable
        self._group = durable or ""
        self._keys = {bus.key(t): t for t in dict.fromkeys(topics)}
        self._positions: dict[Any, Any] = {}
        self._last: dict[str, tuple[int, int]] = {}
        self._client: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._event_keys: dict[str, str] = {}
        self._consumer = f"{durable}.{uuid.uuid4().hex[:12]}" if durable is not None else ""
        #: times the reader lost the server and came back (tests and operators read it)
        self.reconnects = 0

    async def ready(self) -> None:
        async with self._start_lock:
            if self._task is not None or self.closed:
                return
            client = self._bus.new_client(socket_timeout=BLOCK_MS / 1000 + 10)
            try:
                if self.durable is None:
                    positions = await self._bus.with_retry(
                        lambda: self._current_positions(client), "subscribe"
                    )
                else:
                    await self._bus.with_retry(lambda: self._create_groups(client), "subscribe")
                    positions = dict.fromkeys(self._keys, "0")  # own pending entries first
            except BaseException:
                await client.aclose()
                raise
            self._client = client
            self._positions = positions
            self._last = {k: parse_stream_id(v) for k, v in positions.items() if "-" in v}
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

    @property
    def _parked(self) -> str:
        return f"{self.durable}.parked"

    async def _create_groups(self, client: Redis) -> None:
        """The group starts at the stream's end the first time the name is used; later opens
        keep its position and take over parked and stale entries."""
        for key in self._keys:
            try:
                await client.xgroup_create(key, self._group, id="$", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            await self._move_pending(client, key, self._parked, self._consumer)
            await client.xautoclaim(key, self._group, self._consumer, STALE_MS, justid=True, count=10_000)

    async def _move_pending(self, client: Redis, key: str, source: str, target: str) -> None:
        while True:
            pending: Any = await client.xpending_range(key, self._group, "-", "+", 1000, consumername=source)
            ids = [p["message_id"] for p in pending]
            if not ids:
                return
            await client.xclaim(key, self._group, target, 0, ids, justid=True)

    async def _park(self) -> None:
        """Hand what this consumer holds back to the name, then leave the group."""
        assert self._client is not None
        for key in self._keys:
            await self._move_pending(self._client, key, self._consumer, self._parked)
            await self._client.xgroup_delconsumer(key, self._group, self._consumer)

    async def get(self, timeout: float | None = None) -> Event | None:
        if self._task is None and not self.closed:
            await self.ready()
        event = await super().get(timeout)
        if event is not None and self.durable is not None:
            key = self._event_keys.pop(event.event_id, None)
            if key is not None:
                with contextlib.suppress(*CONNECTION_ERRORS):  # unacked: read again next time
                    await self._bus.redis.xack(key, self._group, event.event_id)
        return event

    async def _read(self) -> Any:
        assert self._client is not None
        if self.durable is None:
            return await self._client.xread(self._positions, count=READ_BATCH, block=BLOCK_MS)
        pending = any(v == "0" for v in self._positions.values())
        reply: Any = await self._client.xreadgroup(
            self._group,
            self._consumer,
            self._positions,
            count=READ_BATCH,
            block=None if pending else BLOCK_MS,
        )
        for raw_key, entries in reply or ():
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            if self._positions.get(key) == "0" and not entries:
                self._positions[key] = ">"  # this consumer's pending entries are all read
        if not pending:
            return reply
        for key in self._keys:  # streams with no pending entries at all are not in the reply
            if self._positions[key] == "0" and not any(_name(k) == key for k, _ in reply or ()):
                self._positions[key] = ">"
        return reply

    async def _read_loop(self) -> None:
        backoff = Backoff()
        lost_since: float | None = None
        loop = asyncio.get_running_loop()
        while not self.closed:
            try:
                reply = await self._read()
            except CONNECTION_ERRORS as exc:
                if self.closed:
                    return
                if lost_since is None:
                    lost_since = loop.time()
                    log.warning(
                        "redis bus: subscription to %s lost the server (%s); reconnecting", self.topics, exc
                    )
                if self.durable is not None:
                    self._positions = dict.fromkeys(self._keys, "0")  # re-read what was not acked
                await asyncio.sleep(backoff.next())
                continue
            except ResponseError as exc:
                if self.durable is not None and "NOGROUP" in str(exc):
                    # the server lost the group (restart without persistence, or deleted): recreate
                    assert self._client is not None
                    with contextlib.suppress(*CONNECTION_ERRORS, ResponseError):
                        await self._create_groups(self._client)
                    continue
                # e.g. WRONGTYPE: someone wrote a non-stream under our prefix; keep trying, loudly
                log.error("redis bus: subscription to %s cannot read: %s", self.topics, exc)
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
            self._deliver(reply)

    def _deliver(self, reply: Any) -> None:
        for raw_key, entries in reply or ():
            key = _name(raw_key)
            for entry_id, fields in entries:
                text_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                position = parse_stream_id(text_id)
                if position <= self._last.get(key, (0, 0)):
                    continue  # never hand out an entry twice, whatever the server sends
                self._last[key] = position
                if self.durable is None:
                    self._positions[key] = text_id
                elif self._positions[key] != ">":
                    self._positions[key] = text_id  # walk through the pending entries
                if not fields or FIELD_DATA not in fields:
                    continue  # trimmed away while pending: nothing left to deliver
                try:
                    event = decode_entry(entry_id, fields)
                except Exception:  # a foreign or corrupt entry must not kill the subscription
                    log.warning("redis bus: skipped undecodable entry %r on %s", entry_id, key, exc_info=True)
                    continue
                if self.durable is not None:
                    self._event_keys[event.event_id] = key
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
        if self._client is not None and self.durable is not None:
            try:
                await self._park()
            except (*CONNECTION_ERRORS, ResponseError) as exc:  # they stay pending: claimed when stale
                log.warning("redis bus: could not park %s's unread events (%s)", self.durable, exc)
        if self._client is not None:
            with contextlib.suppress(*CONNECTION_ERRORS):
                await self._client.aclose()

    def __repr__(self) -> str:
        return f"RedisSubscription({self.topics!r}, durable={self.durable!r})"


def _name(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def unavailable(url: str, what: str, exc: BaseException) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"redis bus: {what} failed because Redis at {url} is unreachable ({exc}); start it or point "
        "REDIS_URL at a running server"
    )
