"""Idle runners wake on the bus's rollout events (not on a timer), and poll with a bounded
backoff when there is no bus."""

from __future__ import annotations

import asyncio
from typing import Any

from agentlightning_core import rollout
from agentlightning_core.bus.memory import InMemoryEventBus
from agentlightning_core.runner import Runner
from agentlightning_core.runner.idle import WorkSignal
from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.types import RETRYABLE_STATUSES, AttemptStatus, RolloutConfig, RolloutStatus

from .conftest import running


async def test_an_enqueue_event_ends_the_idle_wait_long_before_the_recheck(store: InMemoryStore) -> None:
    signal = WorkSignal(store.bus, bus_recheck=30.0)
    await signal.start()
    try:
        assert signal.listening
        signal.arm()
        waiter = asyncio.create_task(signal.wait())
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await store.enqueue_rollout("work")
        await asyncio.wait_for(waiter, 5)  # would take 30 s without the event
    finally:
        await signal.close()


async def test_a_rollout_requeued_for_retry_also_wakes_idle_runners(store: InMemoryStore) -> None:
    ro = await store.enqueue_rollout(
        "t", config=RolloutConfig(max_attempts=2, retry_on=list(RETRYABLE_STATUSES))
    )
    got = await store.dequeue_rollout("someone")
    assert got is not None
    signal = WorkSignal(store.bus, bus_recheck=30.0)
    await signal.start()
    try:
        signal.arm()
        waiter = asyncio.create_task(signal.wait())
        await asyncio.sleep(0.02)
        await store.update_attempt(ro.rollout_id, got.attempt.attempt_id, status=AttemptStatus.FAILED)
        await asyncio.wait_for(waiter, 5)
    finally:
        await signal.close()


async def test_without_a_bus_the_backoff_doubles_up_to_its_bound() -> None:
    signal = WorkSignal(None, min_backoff=0.001, max_backoff=0.004)
    await signal.start()
    assert not signal.listening
    waits = []
    for _ in range(5):
        waits.append(signal._backoff)
        await signal.wait()
    assert waits == [0.001, 0.002, 0.004, 0.004, 0.004]
    signal.found_work()
    assert signal._backoff == 0.001
    await signal.close()


async def test_a_runner_without_a_bus_still_picks_up_work_that_arrives_later() -> None:
    @rollout
    def agent(task: str) -> float:
        return 1.0

    async with InMemoryStore(watchdog_interval=0.02) as store:  # no bus at all
        runner = Runner(agent, store, idle_backoff=(0.001, 0.02))
        async with running(runner):
            await asyncio.sleep(0.2)  # idle long enough to reach the longest backoff
            ro = await store.enqueue_rollout("late")
            (done,) = await store.wait_for_rollouts([ro.rollout_id], timeout=5)
        assert done.status is RolloutStatus.SUCCEEDED


async def test_an_idle_runner_with_a_bus_picks_up_work_at_once() -> None:
    @rollout
    def agent(task: str) -> float:
        return 1.0

    bus = InMemoryEventBus()
    async with InMemoryStore(watchdog_interval=0.02) as store:
        store.bus = bus
        runner = Runner(agent, store, idle_recheck=30.0)
        async with running(runner):
            await asyncio.sleep(0.1)  # idle, waiting on the bus
            assert runner._signal is not None and runner._signal.listening
            ro = await store.enqueue_rollout("now")
            (done,) = await store.wait_for_rollouts([ro.rollout_id], timeout=5)
        assert done.status is RolloutStatus.SUCCEEDED


class SlowDequeueStore(InMemoryStore):
    """The real in-memory store with a network-like 10 ms dequeue, counting dequeues in flight."""

    def __init__(self) -> None:
        super().__init__(watchdog_interval=0.02)
        self.in_flight = 0
        self.peak = 0
        self.calls = 0

    async def dequeue_rollout(self, worker_id: str | None = None) -> Any:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return await super().dequeue_rollout(worker_id)
        finally:
            self.in_flight -= 1


async def test_an_idle_runner_probes_the_queue_one_dequeue_at_a_time() -> None:
    @rollout
    def agent(task: int) -> float:
        return 1.0

    async with SlowDequeueStore() as store:
        runner = Runner(agent, store, concurrency=32, idle_backoff=(0.005, 0.1))
        async with running(runner):
            await asyncio.sleep(0.5)
        assert store.peak == 1
        assert store.calls <= 15  # backoff: 5, 10, 20, 40, 80, 100, 100 ... ms between probes


async def test_with_work_queued_a_runner_dequeues_for_all_its_free_slots_at_once() -> None:
    @rollout
    async def agent(task: int) -> float:
        await asyncio.sleep(0.05)
        return 1.0

    async with SlowDequeueStore() as store:
        ids = [(await store.enqueue_rollout(i)).rollout_id for i in range(16)]
        async with running(Runner(agent, store, concurrency=8)):
            done = await store.wait_for_rollouts(ids, timeout=10)
        assert len(done) == 16
        assert store.peak >= 4  # not one dequeue after another
