"""The RabbitMQ event bus: a durable topic exchange, routing key = topic.

RabbitMQ routes and forgets: it keeps no history, so ``get_event_history`` and
``clear_event_history`` raise ``NotSupportedError`` (use the Redis bus for history). Messages
are persistent and published with confirms, so a durable subscription's queue keeps every
confirmed event across a broker restart; plain subscriptions see what arrives while connected.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from agentlightning_core.bus.backoff import Backoff
from agentlightning_core.bus.base import DEFAULT_MAX_PAYLOAD_BYTES, EventBus, Subscription
from agentlightning_core.errors import BackendUnavailableError, InvalidRequestError
from agentlightning_core.types import Event

from .settings import RabbitMQSettings, load_rabbitmq_settings
from .subscription import RabbitMQSubscription

log = logging.getLogger(__name__)

#: routing keys are short strings in AMQP 0-9-1
MAX_ROUTING_KEY_BYTES = 255


class RabbitMQEventBus(EventBus):
    name = "rabbitmq"
    supports_history = False

    def __init__(
        self,
        settings: RabbitMQSettings | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        **overrides: Any,
    ) -> None:
        super().__init__(max_payload_bytes=max_payload_bytes)
        base = settings or load_rabbitmq_settings()
        self.settings = base.model_copy(update=overrides) if overrides else base
        self.exchange_name = self.settings.exchange
        self.prefetch = self.settings.prefetch
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self.subscriptions: weakref.WeakSet[RabbitMQSubscription] = weakref.WeakSet()
        #: durable names this bus object opened (their queues outlive it; see ``delete_durable``)
        self.durable_names: set[str] = set()

    @classmethod
    def from_env(cls) -> RabbitMQEventBus:
        """Configured from ``RABBITMQ_*`` (see the package README); invalid values name the variable."""
        return cls(load_rabbitmq_settings())

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._connection is not None:
            return
        try:
            connection = await aio_pika.connect_robust(
                self.settings.url(),
                timeout=self.settings.connect_timeout,
                reconnect_interval=0.5,
                client_properties={"connection_name": f"agentlightning bus {self.exchange_name}"},
            )
        except (*CONNECTION_EXCEPTIONS, asyncio.TimeoutError) as exc:
            raise BackendUnavailableError(
                f"rabbitmq bus: cannot reach {self.settings.safe_url()} ({type(exc).__name__}: {exc}); "
                "start RabbitMQ or set RABBITMQ_HOST/RABBITMQ_PORT/RABBITMQ_USERNAME/RABBITMQ_PASSWORD/"
                "RABBITMQ_VHOST"
            ) from exc
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except BaseException:
            await connection.close()
            raise
        self._connection, self._channel, self._exchange = connection, channel, exchange

    async def close(self) -> None:
        for subscription in list(self.subscriptions):
            await subscription.close()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError(
                "the rabbitmq bus is not started; use `async with bus:` or `await bus.start()`"
            )
        return self._connection

    # ------------------------------------------------------------------- publish
    async def publish(self, event: Event) -> Event:
        """Publish persistent, with a broker confirm; retry for ``retry_seconds`` while the
        broker is away. A resend after a lost confirm can arrive twice: subscriptions drop the
        repeat by ``event_id``."""
        data = self.encode(event)
        if len(event.topic.encode()) > MAX_ROUTING_KEY_BYTES:
            raise InvalidRequestError(
                f"topic {event.topic[:40]!r}... is {len(event.topic.encode())} bytes in UTF-8; the "
                f"rabbitmq bus allows {MAX_ROUTING_KEY_BYTES}; use a shorter topic"
            )
        message = aio_pika.Message(
            data,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=event.event_id,
            content_type="application/json",
            type=event.type,
        )
        if self._exchange is None:
            raise RuntimeError(
                "the rabbitmq bus is not started; use `async with bus:` or `await bus.start()`"
            )
        deadline = time.monotonic() + self.settings.retry_seconds
        backoff = Backoff()
        while True:
            try:
                await self._exchange.publish(
                    message, routing_key=event.topic, mandatory=False, timeout=self.settings.connect_timeout
                )
                return event
            except (*CONNECTION_EXCEPTIONS, asyncio.TimeoutError) as exc:
                if time.monotonic() >= deadline:
                    raise BackendUnavailableError(
                        f"rabbitmq bus: publish on topic {event.topic!r} failed for "
                        f"{self.settings.retry_seconds:.0f}s because {self.settings.safe_url()} is "
                        f"unreachable ({type(exc).__name__}: {exc})"
                    ) from exc
                await asyncio.sleep(min(backoff.next(), max(0.0, deadline - time.monotonic())))

    def subscribe(self, topics: Sequence[str], *, durable: str | None = None) -> Subscription:
        if not topics:
            raise ValueError("subscribe() needs at least one topic")
        subscription = RabbitMQSubscription(self, topics, self.check_durable_name(durable))
        if durable is not None:
            self.durable_names.add(durable)
        return subscription

    # ------------------------------------------------------------------- history
    async def get_event_history(self, topic: str, limit: int = 100, since: str | None = None) -> list[Event]:
        raise self._no_history()

    async def clear_event_history(self, topic: str) -> None:
        raise self._no_history()

    async def delete_durable(self, durable: str) -> None:
        """Drop a durable subscription's queue and what it holds (it outlives its subscribers)."""
        name = f"{self.exchange_name}.durable.{self.check_durable_name(durable)}"
        channel = await self.connection.channel()
        try:
            await channel.queue_delete(name)
        finally:
            await channel.close()

    async def delete_exchange(self) -> None:
        """Remove this bus's exchange from the broker (tests that use a throwaway exchange)."""
        channel = await self.connection.channel()
        try:
            await channel.exchange_delete(self.exchange_name)
        finally:
            await channel.close()

    def __repr__(self) -> str:
        return f"RabbitMQEventBus({self.settings.safe_url()!r}, exchange={self.exchange_name!r})"
