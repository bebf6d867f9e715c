"""The Redis event bus: one Redis stream per topic.

Why streams and not PUB/SUB: a stream keeps the last ``history`` events, which gives
``get_event_history`` for free and lets a subscriber that lost its connection re-read from the
last id it saw, so a server restart costs no events (with Redis persistence on) and causes no
duplicates. Stream ids are ordered, so they are the events' ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError

from agentlightning_core.bus.backoff import Backoff
from agentlightning_core.bus.base import DEFAULT_MAX_PAYLOAD_BYTES, EventBus, Subscription
from agentlightning_core.types import Event

from .settings import load_redis_bus_settings
from .streams import ADD_ONCE_LUA, FIELD_DATA, FIELD_UID, check_since, decode_entry
from .subscription import CONNECTION_ERRORS, RedisSubscription, unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

#: entries the retry path searches for an earlier copy of the event it is re-sending
DUPLICATE_SCAN = 1_000


class RedisEventBus(EventBus):
    name = "redis"
    supports_history = True

    def __init__(
        self,
        url: str = "redis://localhost:6379",
        *,
        prefix: str = "agl:events",
        history_size: int = 10_000,
        retry_seconds: float = 10.0,
        connect_timeout: float = 2.0,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        super().__init__(max_payload_bytes=max_payload_bytes)
        self.url = url
        self.prefix = prefix
        self.history_size = history_size
        self.retry_seconds = retry_seconds
        self.connect_timeout = connect_timeout
        self._redis: Redis | None = None
        self._add_once: Any = None
        self.subscriptions: weakref.WeakSet[RedisSubscription] = weakref.WeakSet()

    @classmethod
    def from_env(cls) -> RedisEventBus:
        """Configured from ``REDIS_URL`` and ``REDIS_BUS_*`` (see the package README); a bad value
        raises ``InvalidRequestError`` naming the variable."""
        s = load_redis_bus_settings()
        return cls(
            s.redis_url,
            prefix=s.redis_bus_prefix,
            history_size=s.redis_bus_history,
            retry_seconds=s.redis_bus_retry_seconds,
            connect_timeout=s.redis_bus_connect_timeout,
        )

    def key(self, topic: str) -> str:
        return f"{self.prefix}:{topic}"

    def new_client(self, socket_timeout: float | None = None) -> Redis:
        """A client without redis-py's own retries: this bus decides what is safe to resend."""
        return Redis.from_url(
            self.url,
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._redis is not None:
            return
        client = self.new_client(socket_timeout=max(5.0, self.connect_timeout))
        try:
            await client.ping()
        except CONNECTION_ERRORS as exc:
            await client.aclose()
            raise unavailable(self.url, "start", exc) from exc
        self._redis = client
        self._add_once = client.register_script(ADD_ONCE_LUA)

    async def close(self) -> None:
        for subscription in list(self.subscriptions):
            await subscription.close()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the redis bus is not started; use `async with bus:` or `await bus.start()`")
        return self._redis

    async def with_retry(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        """Run ``call`` (safe to repeat), retrying connection errors for ``retry_seconds``."""
        deadline = time.monotonic() + self.retry_seconds
        backoff = Backoff()
        while True:
            try:
                return await call()
            except CONNECTION_ERRORS as exc:
                if time.monotonic() >= deadline:
                    raise unavailable(self.url, what, exc) from exc
                await asyncio.sleep(min(backoff.next(), max(0.0, deadline - time.monotonic())))

    # ------------------------------------------------------------------- publish
    async def publish(self, event: Event) -> Event:
        """Append to the topic's stream; returns the event with its stream id as ``event_id``.

        While Redis is unreachable this retries for ``retry_seconds``. A retry after a lost reply
        first looks for the earlier copy (by the publisher's event id), so a resend never shows
        up twice.
        """
        data = self.encode(event)
        key = self.key(event.topic)
        redis = self.redis
        attempts = 0

        async def append() -> Any:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                return await redis.xadd(
                    key,
                    {FIELD_UID: event.event_id, FIELD_DATA: data},
                    maxlen=self.history_size,
                    approximate=False,
                )
            return await self._add_once(
                keys=[key], args=[event.event_id, data, self.history_size, DUPLICATE_SCAN]
            )

        entry_id = await self.with_retry(append, f"publish on topic {event.topic!r}")
        text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        return event.model_copy(update={"event_id": text})

    def subscribe(self, topics: Sequence[str], *, durable: str | None = None) -> Subscription:
        if not topics:
            raise ValueError("subscribe() needs at least one topic")
        return RedisSubscription(self, topics, self.check_durable_name(durable))

    async def delete_durable(self, durable: str) -> None:
        """Forget a durable subscription (its consumer group on every stream of this prefix)."""
        name = self.check_durable_name(durable) or ""
        async for key in self.redis.scan_iter(match=f"{self.prefix}:*", _type="stream"):
            with contextlib.suppress(ResponseError):
                await self.redis.xgroup_destroy(key, name)

    # ------------------------------------------------------------------- history
    async def get_event_history(self, topic: str, limit: int = 100, since: str | None = None) -> list[Event]:
        if limit <= 0:
            return []
        low = f"({check_since(since)}" if since is not None else "-"
        key = self.key(topic)
        entries: Any = await self.with_retry(
            lambda: self.redis.xrevrange(key, "+", low, count=limit), f"history of topic {topic!r}"
        )
        return [decode_entry(entry_id, fields) for entry_id, fields in reversed(entries)]

    async def clear_event_history(self, topic: str) -> None:
        """Empty the stream but keep the key: deleting it would reset the stream's last id, and
        a new event in the same millisecond would reuse an id live subscribers already passed."""
        key = self.key(topic)
        await self.with_retry(
            lambda: self.redis.xtrim(key, maxlen=0, approximate=False), f"clearing history of topic {topic!r}"
        )

    def __repr__(self) -> str:
        return f"RedisEventBus({self.url.split('@')[-1]!r}, prefix={self.prefix!r})"
