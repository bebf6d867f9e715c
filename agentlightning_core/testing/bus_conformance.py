"""The event-bus conformance suite. Needs a ``bus`` fixture yielding a started bus whose topics
are private to the test (prefix them, or flush between tests).

Durable names are unique per test too; a backend whose durable state outlives the bus object
(RabbitMQ queues, Redis consumer groups) should drop it in the fixture's teardown.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable

import pytest

from ..bus.base import EventBus
from ..errors import InvalidRequestError, NotSupportedError, PayloadTooLargeError
from ..types import Event

DELIVERY_TIMEOUT = 5.0


def topic() -> str:
    return f"test.{uuid.uuid4().hex[:10]}"


def durable_name() -> str:
    return f"durable-{uuid.uuid4().hex[:10]}"


async def assert_history_not_supported(call: Awaitable[object]) -> None:
    """A bus without history (``supports_history`` false) must refuse the call with
    ``NotSupportedError`` naming the backend that has it (redis), never answer something."""
    with pytest.raises(NotSupportedError, match="redis"):
        await call


class BusConformance:
    """Every event-bus backend passes these. Provide a ``bus`` fixture."""

    async def test_subscriber_receives_published_event(self, bus: EventBus) -> None:
        t = topic()
        async with bus.subscribe([t]) as sub:
            sent = await bus.emit(t, "thing.happened", {"n": 1, "s": "ü"})
            got = await sub.get(timeout=DELIVERY_TIMEOUT)
        assert got is not None
        assert (got.topic, got.type, got.payload) == (t, "thing.happened", {"n": 1, "s": "ü"})
        assert got.event_id == sent.event_id

    async def test_events_of_a_topic_arrive_in_publish_order(self, bus: EventBus) -> None:
        t = topic()
        async with bus.subscribe([t]) as sub:
            for i in range(200):
                await bus.emit(t, "seq", {"i": i})
            received = [await sub.get(timeout=DELIVERY_TIMEOUT) for _ in range(200)]
        assert [e.payload["i"] for e in received if e is not None] == list(range(200))

    async def test_concurrent_publishers_lose_nothing(self, bus: EventBus) -> None:
        t = topic()
        async with bus.subscribe([t]) as sub:
            await asyncio.gather(*(bus.emit(t, "p", {"k": k, "i": i}) for k in range(5) for i in range(20)))
            received = [await sub.get(timeout=DELIVERY_TIMEOUT) for _ in range(100)]
        assert {(e.payload["k"], e.payload["i"]) for e in received if e is not None} == {
            (k, i) for k in range(5) for i in range(20)
        }

    async def test_every_subscriber_gets_every_event(self, bus: EventBus) -> None:
        t = topic()
        subs = [bus.subscribe([t]) for _ in range(3)]
        for sub in subs:
            await sub.ready()
        try:
            for i in range(5):
                await bus.emit(t, "fan", {"i": i})
            for sub in subs:
                got = [await sub.get(timeout=DELIVERY_TIMEOUT) for _ in range(5)]
                assert [e.payload["i"] for e in got if e is not None] == list(range(5))
        finally:
            for sub in subs:
                await sub.close()

    async def test_topics_are_isolated(self, bus: EventBus) -> None:
        a, b = topic(), topic()
        async with bus.subscribe([a]) as sub:
            await bus.emit(b, "other", {})
            await bus.emit(a, "mine", {})
            got = await sub.get(timeout=DELIVERY_TIMEOUT)
            assert got is not None and got.type == "mine"
            assert await sub.get(timeout=0.2) is None

    async def test_one_subscription_to_several_topics(self, bus: EventBus) -> None:
        a, b = topic(), topic()
        async with bus.subscribe([a, b]) as sub:
            await bus.emit(a, "x", {})
            await bus.emit(b, "y", {})
            got = {(await sub.get(timeout=DELIVERY_TIMEOUT)).topic for _ in range(2)}  # type: ignore[union-attr]
        assert got == {a, b}

    async def test_closed_subscription_receives_nothing_more(self, bus: EventBus) -> None:
        t = topic()
        keep = bus.subscribe([t])
        drop = bus.subscribe([t])
        await keep.ready()
        await drop.ready()
        await bus.emit(t, "before", {})
        assert (await drop.get(timeout=DELIVERY_TIMEOUT)) is not None
        await drop.close()
        await bus.emit(t, "after", {})
        got = [await keep.get(timeout=DELIVERY_TIMEOUT) for _ in range(2)]
        assert [e.type for e in got if e is not None] == ["before", "after"]
        await keep.close()

    async def test_get_times_out_with_none(self, bus: EventBus) -> None:
        async with bus.subscribe([topic()]) as sub:
            assert await sub.get(timeout=0.1) is None

    async def test_async_iteration(self, bus: EventBus) -> None:
        t = topic()
        async with bus.subscribe([t]) as sub:
            for i in range(3):
                await bus.emit(t, "it", {"i": i})
            seen = []
            async for event in sub:
                seen.append(event.payload["i"])
                if len(seen) == 3:
                    break
        assert seen == [0, 1, 2]

    async def test_large_payload_is_delivered_intact(self, bus: EventBus) -> None:
        t = topic()
        payload = {"blob": "x" * 400_000, "ids": list(range(10_000))}
        async with bus.subscribe([t]) as sub:
            await bus.emit(t, "big", payload)
            got = await sub.get(timeout=DELIVERY_TIMEOUT)
        assert got is not None and got.payload == payload

    async def test_payload_over_the_limit_is_refused(self, bus: EventBus) -> None:
        with pytest.raises(PayloadTooLargeError):
            await bus.emit(topic(), "huge", {"blob": "x" * (bus.max_payload_bytes + 1)})

    async def test_unserialisable_payload_is_refused_with_clear_error(self, bus: EventBus) -> None:
        with pytest.raises(InvalidRequestError, match="JSON"):
            await bus.emit(topic(), "bad", {"obj": object()})

    async def test_publishing_a_non_event_is_refused(self, bus: EventBus) -> None:
        with pytest.raises(InvalidRequestError):
            await bus.publish({"topic": "x"})  # type: ignore[arg-type]

    async def test_empty_topic_is_refused(self) -> None:
        with pytest.raises(ValueError):
            Event(topic="", type="x")

    async def test_event_ids_are_unique(self, bus: EventBus) -> None:
        t = topic()
        async with bus.subscribe([t]) as sub:
            for _ in range(20):
                await bus.emit(t, "id", {})
            got = [await sub.get(timeout=DELIVERY_TIMEOUT) for _ in range(20)]
        assert len({e.event_id for e in got if e is not None}) == 20

    # ------------------------------------------------------------------ history
    async def test_history_returns_last_events_oldest_first(self, bus: EventBus) -> None:
        t = topic()
        if not bus.supports_history:
            await assert_history_not_supported(bus.get_event_history(t))
            return
        for i in range(10):
            await bus.emit(t, "h", {"i": i})
        history = await bus.get_event_history(t, limit=4)
        assert [e.payload["i"] for e in history] == [6, 7, 8, 9]

    async def test_history_since_an_event_id(self, bus: EventBus) -> None:
        t = topic()
        if not bus.supports_history:
            await assert_history_not_supported(bus.get_event_history(t, since="0"))
            return
        for i in range(5):
            await bus.emit(t, "h", {"i": i})
        all_events = await bus.get_event_history(t, limit=100)
        since = await bus.get_event_history(t, limit=100, since=all_events[1].event_id)
        assert [e.payload["i"] for e in since] == [2, 3, 4]

    async def test_clear_history(self, bus: EventBus) -> None:
        t = topic()
        if not bus.supports_history:
            await assert_history_not_supported(bus.clear_event_history(t))
            return
        await bus.emit(t, "h", {})
        await bus.clear_event_history(t)
        assert await bus.get_event_history(t) == []
        await bus.emit(t, "h2", {})
        assert [e.type for e in await bus.get_event_history(t)] == ["h2"]

    async def test_history_of_unknown_topic_is_empty(self, bus: EventBus) -> None:
        if not bus.supports_history:
            await assert_history_not_supported(bus.get_event_history(topic()))
            return
        assert await bus.get_event_history(topic()) == []

    async def test_history_is_per_topic(self, bus: EventBus) -> None:
        a, b = topic(), topic()
        await bus.emit(a, "a", {})
        await bus.emit(b, "b", {})
        if not bus.supports_history:
            await assert_history_not_supported(bus.get_event_history(a))
            return
        assert [e.type for e in await bus.get_event_history(a)] == ["a"]

    # ------------------------------------------------------------------ ids
    async def test_delivered_event_id_is_the_one_publish_returned(self, bus: EventBus) -> None:
        t = topic()
        async with bus.subscribe([t]) as sub:
            sent = [await bus.emit(t, "id", {"i": i}) for i in range(5)]
            got = [await sub.get(timeout=DELIVERY_TIMEOUT) for _ in range(5)]
        assert [e.event_id for e in got if e is not None] == [e.event_id for e in sent]

    async def test_history_since_the_id_publish_returned(self, bus: EventBus) -> None:
        t = topic()
        sent = [await bus.emit(t, "h", {"i": i}) for i in range(4)]
        if not bus.supports_history:
            await assert_history_not_supported(bus.get_event_history(t, since=sent[1].event_id))
            return
        after = await bus.get_event_history(t, since=sent[1].event_id)
        assert [e.event_id for e in after] == [e.event_id for e in sent[2:]]

    async def test_history_limit_zero_is_empty(self, bus: EventBus) -> None:
        t = topic()
        await bus.emit(t, "h", {})
        if not bus.supports_history:
            await assert_history_not_supported(bus.get_event_history(t, limit=0))
            return
        assert await bus.get_event_history(t, limit=0) == []

    async def test_subscription_sees_nothing_published_before_it_was_ready(self, bus: EventBus) -> None:
        t = topic()
        await bus.emit(t, "old", {})
        async with bus.subscribe([t]) as sub:
            await bus.emit(t, "new", {})
            got = await sub.get(timeout=DELIVERY_TIMEOUT)
            assert got is not None and got.type == "new"
            assert await sub.get(timeout=0.2) is None

    # ------------------------------------------------------------------ durable subscriptions
    async def test_durable_subscription_gets_what_was_published_while_closed(self, bus: EventBus) -> None:
        t, name = topic(), durable_name()
        async with bus.subscribe([t], durable=name) as sub:
            await bus.emit(t, "d", {"i": 0})
            first = await sub.get(timeout=DELIVERY_TIMEOUT)
        assert first is not None and first.payload == {"i": 0}
        for i in range(1, 4):  # nobody of that name is open now
            await bus.emit(t, "d", {"i": i})
        async with bus.subscribe([t], durable=name) as again:
            got = [await again.get(timeout=DELIVERY_TIMEOUT) for _ in range(3)]
            assert [e.payload["i"] for e in got if e is not None] == [1, 2, 3]
            assert await again.get(timeout=0.2) is None

    async def test_durable_subscribers_of_one_name_share_the_events(self, bus: EventBus) -> None:
        t, name = topic(), durable_name()
        a = bus.subscribe([t], durable=name)
        b = bus.subscribe([t], durable=name)
        await a.ready()
        await b.ready()
        try:
            for i in range(20):
                await bus.emit(t, "w", {"i": i})
            seen: list[int] = []
            for sub in (a, b):
                while (event := await sub.get(timeout=0.5)) is not None:
                    seen.append(event.payload["i"])
            assert sorted(seen) == list(range(20))  # each event to exactly one of them
        finally:
            await a.close()
            await b.close()

    async def test_durable_and_plain_subscribers_each_get_every_event(self, bus: EventBus) -> None:
        t = topic()
        async with bus.subscribe([t], durable=durable_name()) as durable, bus.subscribe([t]) as plain:
            await plain.ready()
            for i in range(3):
                await bus.emit(t, "x", {"i": i})
            for sub in (durable, plain):
                got = [await sub.get(timeout=DELIVERY_TIMEOUT) for _ in range(3)]
                assert [e.payload["i"] for e in got if e is not None] == [0, 1, 2]

    async def test_bad_durable_name_is_refused(self, bus: EventBus) -> None:
        with pytest.raises(InvalidRequestError, match="durable"):
            bus.subscribe([topic()], durable="has space/slash")
