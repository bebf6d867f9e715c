"""The bus's lag and throughput as a store records them (the dashboard's backends page shows them):
through the outbox for a bus that may wait, directly for the in-process bus."""

from __future__ import annotations

import asyncio

from agentlightning_core import InMemoryStore
from agentlightning_core.bus.memory import InMemoryEventBus
from agentlightning_core.bus.meter import RATE_WINDOW_SECONDS, SAMPLES
from agentlightning_core.bus.outbox import Outbox
from agentlightning_core.types import Event


class FlakyBus(InMemoryEventBus):
    """The in-memory bus with an outage switch: while ``down``, publishing raises, as a Redis
    connection does during a restart (the outbox's own Redis outage test is in backends/redis).
    It may wait, like a networked bus, so a store sends its events through the outbox."""

    publish_may_wait = True

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def publish(self, event: Event) -> Event:
        if self.down:
            raise ConnectionError("bus is down")
        return await super().publish(event)


def event(i: int) -> Event:
    return Event(topic="rollouts", type="rollout.enqueued", payload={"i": i})


async def test_statistics_before_any_event_say_no_lag_and_no_throughput() -> None:
    outbox = Outbox(InMemoryEventBus())
    assert outbox.meter.statistics() == {"published": 0, "lag_ms": None, "events_per_s": 0.0}
    assert outbox.statistics()["oldest_pending_ms"] == 0.0 and outbox.statistics()["pending"] == 0


async def test_published_events_give_lag_and_events_per_second() -> None:
    outbox = Outbox(InMemoryEventBus())
    for i in range(50):
        outbox.put(event(i))
    assert await outbox.flush(5)
    stats = outbox.statistics()
    assert stats["delivered"] == 50 and stats["pending"] == 0 and stats["oldest_pending_ms"] == 0.0
    meter = outbox.meter.statistics()
    assert meter["published"] == 50
    assert 0 <= meter["lag_ms"]["median"] <= meter["lag_ms"]["max"] < 5000
    assert meter["events_per_s"] == 50 / RATE_WINDOW_SECONDS
    await outbox.close()


async def test_more_events_than_lag_samples_rate_over_their_own_span() -> None:
    outbox = Outbox(InMemoryEventBus())
    for i in range(1000):
        outbox.put(event(i))
    assert await outbox.flush(5)
    # 1000 events published within well under a second: only the last SAMPLES are kept, and the
    # rate is taken over their span, far above 1000 / 10 s
    assert outbox.meter.statistics()["events_per_s"] > 1000 / RATE_WINDOW_SECONDS
    assert len(outbox.meter._samples) == SAMPLES
    await outbox.close()


async def test_an_outage_shows_as_a_growing_wait_and_then_as_lag() -> None:
    bus = FlakyBus()
    bus.down = True
    outbox = Outbox(bus)
    outbox.put(event(0))
    outbox.put(event(1))
    await asyncio.sleep(0.3)
    during = outbox.statistics()
    assert during["in_outage"] and during["pending"] == 2
    assert during["oldest_pending_ms"] >= 250  # the head event has waited the whole outage
    assert outbox.meter.statistics()["lag_ms"] is None  # nothing published yet
    bus.down = False
    assert await outbox.flush(5)
    after = outbox.statistics()
    assert not after["in_outage"] and after["delivered"] == 2 and after["oldest_pending_ms"] == 0.0
    assert outbox.meter.statistics()["lag_ms"]["max"] >= 250  # subscribers got the events that late
    await outbox.close()


async def test_a_store_meters_the_in_process_bus_and_the_outbox_alike() -> None:
    direct = InMemoryStore()
    direct.bus = InMemoryEventBus()
    queued = InMemoryStore()
    queued.bus = FlakyBus()
    for store in (direct, queued):
        for i in range(10):
            await store.enqueue_rollout({"i": i})
    assert queued.outbox is not None and await queued.outbox.flush(5)
    assert direct.outbox is None  # the in-process bus is published on directly
    for store in (direct, queued):
        stats = store.bus_meter.statistics()
        assert stats["published"] == 10 and stats["events_per_s"] == 10 / RATE_WINDOW_SECONDS
        assert stats["lag_ms"]["max"] < 5000
    await queued.close()
