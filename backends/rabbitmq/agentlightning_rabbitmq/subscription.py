"""A RabbitMQ subscription: one queue bound to the exchange once per topic, on its own channel.

A plain subscription gets an exclusive, auto-deleted queue: it sees what is published while it
is connected. A durable one gets a durable queue named after it, fed with persistent messages,
acknowledged only when ``get()`` hands the event out, so events survive a subscriber restart
and a broker restart. Either way the robust connection re-declares queue, bindings and
consumer after a reconnect, and repeats of an event id already handed out (a publisher's
resend, a redelivery) are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from agentlightning_core.bus.base import Subscription
from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.types import Event

if TYPE_CHECKING:
    from .bus import RabbitMQEventBus

log = logging.getLogger(__name__)

#: event ids remembered per subscription to drop repeats
SEEN_IDS = 10_000


def check_topic_for_binding(topic: str) -> str:
    """A topic word of ``*`` or ``#`` would be a wildcard in a topic-exchange binding."""
    if any(word in ("*", "#") for word in topic.split(".")):
        raise InvalidRequestError(
            f"topic {topic!r}: a dot-separated word '*' or '#' is a wildcard in RabbitMQ; "
            "subscribe to literal topic names"
        )
    return topic


class RabbitMQSubscription(Subscription):
    def __init__(self, bus: RabbitMQEventBus, topics: Sequence[str], durable: str | None) -> None:
        super().__init__(topics)
        for topic in self.topics:
            check_topic_for_binding(topic)
        self._bus = bus
        self.durable = durable
        self.queue: asyncio.Queue[tuple[Event, AbstractIncomingMessage | None]] = asyncio.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._channel: AbstractChannel | None = None
        self._amqp_queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._start_lock = asyncio.Lock()
        self.closed = False
        #: events dropped because their id was already handed out
        self.duplicates = 0

    @property
    def queue_name(self) -> str:
        if self.durable is not None:
            return f"{self._bus.exchange_name}.durable.{self.durable}"
        return f"{self._bus.exchange_name}.sub.{self._id}"

    async def ready(self) -> None:
        async with self._start_lock:
            if self._channel is not None or self.closed:
                return
            self._id = uuid.uuid4().hex[:16]
            channel = await self._bus.connection.channel()
            try:
                if self.durable is not None:
                    await channel.set_qos(prefetch_count=self._bus.prefetch)
                exchange = await channel.get_exchange(self._bus.exchange_name, ensure=False)
                queue = await channel.declare_queue(
                    self.queue_name,
                    durable=self.durable is not None,
                    exclusive=self.durable is None,
                    auto_delete=self.durable is None,
                )
                for topic in dict.fromkeys(self.topics):
                    await queue.bind(exchange, routing_key=topic)
                self._consumer_tag = await queue.consume(self._on_message, no_ack=self.durable is None)
            except BaseException:
                with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                    await channel.close()
                raise
            self._channel, self._amqp_queue = channel, queue
            self._bus.subscriptions.add(self)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = self._bus.decode(message.body)
        except Exception:  # a foreign message must not stop the consumer
            log.warning(
                "rabbitmq bus: dropped an undecodable message on %s", message.routing_key, exc_info=True
            )
            if self.durable is not None:
                await message.reject(requeue=False)
            return
        self.queue.put_nowait((event, message if self.durable is not None else None))

    async def get(self, timeout: float | None = None) -> Event | None:
        if self._channel is None and not self.closed:
            await self.ready()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                event, message = await asyncio.wait_for(self.queue.get(), left)
            except asyncio.TimeoutError:
                return None
            if message is not None:
                with contextlib.suppress(*CONNECTION_EXCEPTIONS):  # stale tag after a reconnect
                    await message.ack()
            if event.event_id in self._seen:
                self.duplicates += 1
                continue
            self._seen[event.event_id] = None
            if len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
            return event

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._bus.subscriptions.discard(self)
        if self._channel is None:
            return
        with contextlib.suppress(*CONNECTION_EXCEPTIONS, asyncio.TimeoutError):
            if self._amqp_queue is not None and self._consumer_tag is not None:
                await asyncio.wait_for(self._amqp_queue.cancel(self._consumer_tag), 2)
            # closing the channel hands unacknowledged messages of a durable queue back to it
            await asyncio.wait_for(self._channel.close(), 2)

    def __repr__(self) -> str:
        return f"RabbitMQSubscription({self.topics!r}, durable={self.durable!r})"
