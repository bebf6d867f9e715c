"""The event-bus interface: publish/subscribe by topic, plus history where the backend keeps it."""

from __future__ import annotations

import asyncio
import contextlib
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import orjson

from ..errors import InvalidRequestError, NotSupportedError, PayloadTooLargeError
from ..types import Event

DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20
_DURABLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class Subscription(ABC):
    """An open subscription: iterate it, or ``await get(timeout)``; close it when done.

    Events of one topic arrive in publish order.
    """

    def __init__(self, topics: Sequence[str]) -> None:
        self.topics = list(topics)

    async def ready(self) -> None:
        """Return once the subscription receives every event published from now on."""

    @abstractmethod
    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or ``None`` after ``timeout`` seconds."""

    @abstractmethod
    async def close(self) -> None: ...

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.get()
            if event is not None:
                yield event

    async def __aenter__(self) -> Subscription:
        await self.ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class EventBus(ABC):
    """Publish/subscribe of :class:`~agentlightning_core.types.Event` by topic."""

    name: ClassVar[str] = "abstract"
    #: False for backends that keep no history (``get_event_history`` then raises)
    supports_history: ClassVar[bool] = True
    #: False for a bus whose ``publish`` never waits on anything outside the process (the
    #: in-process bus): a store publishes on it directly instead of through its outbox
    publish_may_wait: ClassVar[bool] = True

    def __init__(self, *, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> None:
        self.max_payload_bytes = max_payload_bytes

    async def start(self) -> None:
        """Connect. Raises :class:`~agentlightning_core.errors.BackendUnavailableError` if the
        server cannot be reached."""

    async def close(self) -> None: ...

    async def __aenter__(self) -> EventBus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abstractmethod
    async def publish(self, event: Event) -> Event:
        """Deliver ``event`` to every current subscriber of its topic; returns it as stored."""

    async def emit(self, topic: str, type_: str, payload: dict[str, Any] | None = None) -> Event:
        return await self.publish(Event(topic=topic, type=type_, payload=payload or {}))

    @abstractmethod
    def subscribe(self, topics: Sequence[str], *, durable: str | None = None) -> Subscription:
        """Open a subscription to ``topics`` (use ``async with``, or call ``ready()``).

        :param durable: name a durable subscription. Events of its topics published while no
            subscription of that name is open are kept for it (within the backend's bound, and
            across server restarts where the backend persists them: RabbitMQ durable queue, Redis
            consumer group) and delivered when one opens again; open subscriptions sharing a
            name split the events between them, each event going to one. Without it a
            subscription sees only what is published while it is open.
        """

    @abstractmethod
    async def get_event_history(self, topic: str, limit: int = 100, since: str | None = None) -> list[Event]:
        """The last ``limit`` events of ``topic`` (oldest first), only those after event id ``since``."""

    @abstractmethod
    async def clear_event_history(self, topic: str) -> None: ...

    # ------------------------------------------------------------------ helpers
    def encode(self, event: Event) -> bytes:
        """Validate and serialise an event; a bad payload fails here, before anyone receives it."""
        if not isinstance(event, Event):
            raise InvalidRequestError(f"publish() takes an Event, got {type(event).__name__}")
        try:
            data = event.__pydantic_serializer__.to_json(event)  # one pass, no intermediate dict
        except (TypeError, ValueError) as exc:  # pydantic's serialisation error is a ValueError
            raise InvalidRequestError(
                f"event payload of type {event.type!r} on topic {event.topic!r} is not JSON-serialisable: {exc}"
            ) from exc
        if len(data) > self.max_payload_bytes:
            raise PayloadTooLargeError(
                f"event of {len(data)} bytes on topic {event.topic!r} exceeds the bus limit of "
                f"{self.max_payload_bytes} bytes; send a reference (id, URL) instead of the data"
            )
        return data

    @staticmethod
    def decode(data: bytes | str) -> Event:
        return Event.model_validate(orjson.loads(data))

    @staticmethod
    def check_durable_name(durable: str | None) -> str | None:
        """Durable names become queue or group names on the server: keep them plain."""
        if durable is not None and not _DURABLE_NAME.match(durable):
            raise InvalidRequestError(
                f"durable={durable!r}: use 1-100 letters, digits, '.', '_' or '-' (e.g. 'dashboard')"
            )
        return durable

    def _no_history(self) -> NotSupportedError:
        return NotSupportedError(
            f"event history is not supported by the {self.name} backend; use redis (EVENT_BUS_BACKEND=redis)"
        )


class QueueSubscription(Subscription):
    """A subscription fed through an ``asyncio.Queue`` (memory bus, and backends' receive loops)."""

    def __init__(self, topics: Sequence[str], on_close: Any = None, maxsize: int = 0) -> None:
        super().__init__(topics)
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._on_close = on_close
        self.closed = False

    async def get(self, timeout: float | None = None) -> Event | None:
        if timeout is None:
            return await self.queue.get()
        with contextlib.suppress(asyncio.TimeoutError):
            return await asyncio.wait_for(self.queue.get(), timeout)
        return None

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._on_close is not None:
            result = self._on_close(self)
            if asyncio.iscoroutine(result):
                await result
