"""Waiters wake on bus events, not on polling: across processes, and through the base store wait.

A waiter in this process wakes on a rollout finished by a store in another process.

``LightningStore.wait_for_rollouts`` (the base implementation every shared-database store uses)
sleeps on the bus between its checks; this pins that bus path across real processes for every
networked bus: a child process runs an in-memory store on the bus, enqueues, runs and finishes a
rollout; this process learns the rollout id from the ``rollout.enqueued`` event and waits with the
store's own helper, which must return on the ``succeeded`` event, long before its timeout.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rich.progress import Progress

from agentlightning_core.algorithm import TrainerContext
from agentlightning_core.bus import open_event_bus
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.store.base import LightningStore, _wait_for_final_event
from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.types import AttemptStatus, EventType, Topic

from .backends import BUS_BACKENDS, require

CHILD = textwrap.dedent(
    """
    import asyncio
    from agentlightning_core.bus import open_event_bus
    from agentlightning_core.store.memory import InMemoryStore
    from agentlightning_core.types import AttemptStatus

    async def main():
        bus = await open_event_bus()
        store = InMemoryStore()
        store.bus = bus
        async with store:
            rollout = await store.enqueue_rollout({"task": 1})
            attempted = await store.dequeue_rollout(worker_id="child")
            await asyncio.sleep(1.0)  # the waiter is asleep on the bus by now
            await store.update_attempt(rollout.rollout_id, attempted.attempt.attempt_id,
                                       status=AttemptStatus.SUCCEEDED)
        await bus.close()

    asyncio.run(main())
    """
)

BUSES = {
    "redis": ("agentlightning_redis", "pip install agentlightning-redis"),
    "rabbitmq": ("agentlightning_rabbitmq", "pip install agentlightning-rabbitmq"),
}


@pytest.mark.parametrize("name", sorted(BUSES))
async def test_waiter_wakes_on_a_rollout_finished_in_another_process(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(*BUSES[name])
    unique = uuid.uuid4().hex[:12]
    monkeypatch.setenv("EVENT_BUS_BACKEND", name)
    monkeypatch.setenv("REDIS_URL", os.environ.get("AGL_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    monkeypatch.setenv("REDIS_BUS_PREFIX", f"agl-test:{unique}")
    monkeypatch.setenv("RABBITMQ_HOST", os.environ.get("AGL_TEST_RABBITMQ_HOST", "127.0.0.1"))
    monkeypatch.setenv("RABBITMQ_EXCHANGE", f"agl-test.{unique}")
    bus = await open_event_bus(manager=AglPluginManager())
    try:
        async with bus.subscribe([Topic.ROLLOUTS]) as sub:
            child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, env=dict(os.environ))
            try:
                enqueued = await sub.get(timeout=60)
                assert enqueued is not None and enqueued.type == EventType.ROLLOUT_ENQUEUED
                rollout_id = enqueued.payload["rollout_id"]
                started = time.monotonic()
                await _wait_for_final_event(sub, {rollout_id}, timeout=60)
                waited = time.monotonic() - started
            finally:
                assert await asyncio.wait_for(child.wait(), 60) == 0
        assert waited < 30, f"woke after {waited:.1f}s: by its timeout, not by the event"
        if bus.supports_history:
            history = await bus.get_event_history(Topic.ROLLOUTS)
            assert [e.payload["status"] for e in history] == ["queued", "running", "succeeded"]
    finally:
        if name == "rabbitmq":
            await bus.delete_exchange()  # type: ignore[attr-defined]
        if name == "redis":
            await bus.clear_event_history(Topic.ROLLOUTS)
        await bus.close()


class _BaseWaitStore(InMemoryStore):
    """The memory store's state with the base-class ``wait_for_rollouts`` (the one SQL and
    MongoDB stores inherit), so the wait can only learn of a finish from the bus or its re-check."""

    wait_for_rollouts = LightningStore.wait_for_rollouts
    wait_recheck_interval = 60.0


@pytest.fixture(params=sorted(BUS_BACKENDS))
async def any_bus(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    factory, module, hint = BUS_BACKENDS[request.param]
    require(module, hint)
    async with factory() as bus:
        yield bus


async def test_base_wait_for_rollouts_wakes_on_the_bus_event(any_bus: Any) -> None:
    store = _BaseWaitStore()
    store.bus = any_bus
    async with store:
        rollouts = [await store.enqueue_rollout(i) for i in range(3)]
        ids = [r.rollout_id for r in rollouts]

        async def finish_all() -> None:
            for _ in ids:
                attempted = await store.dequeue_rollout()
                assert attempted is not None
                await asyncio.sleep(0.2)
                await store.update_attempt(
                    attempted.rollout.rollout_id, attempted.attempt.attempt_id, status=AttemptStatus.SUCCEEDED
                )

        started = time.monotonic()
        finisher = asyncio.create_task(finish_all())
        done = await store.wait_for_rollouts(ids, timeout=50)
        waited = time.monotonic() - started
        await finisher
    assert [r.rollout_id for r in done] == ids
    assert waited < 20, f"returned after {waited:.1f}s: by the 60 s re-check, not by events"


class _RecordingProgress(Progress):
    def __init__(self) -> None:
        super().__init__(disable=True)
        self.completed: list[float] = []

    def update(self, task_id: Any, **kwargs: Any) -> None:
        if "completed" in kwargs:
            self.completed.append(kwargs["completed"])
        super().update(task_id, **kwargs)


async def test_trainer_progress_moves_on_each_finish_event(any_bus: Any, tmp_path: Any) -> None:
    store = _BaseWaitStore()
    store.bus = any_bus
    progress = _RecordingProgress()
    ctx = TrainerContext(store, progress=progress, output_dir=tmp_path)
    async with store:

        async def runner(seen: Any) -> None:
            for _ in range(3):
                while (attempted := await store.dequeue_rollout()) is None:
                    await seen.get(timeout=1)  # wake on the batch's rollout.enqueued events
                await asyncio.sleep(0.3)
                await store.update_attempt(
                    attempted.rollout.rollout_id, attempted.attempt.attempt_id, status=AttemptStatus.SUCCEEDED
                )

        async with any_bus.subscribe([Topic.ROLLOUTS]) as seen:
            started = time.monotonic()
            worker = asyncio.create_task(runner(seen))
            outcomes = await ctx.run_rollouts([1, 2, 3], timeout=50)
            waited = time.monotonic() - started
            await worker
    assert [o.succeeded for o in outcomes] == [True, True, True]
    assert waited < 20, f"returned after {waited:.1f}s: not woken by events"
    assert progress.completed[:3] == [1, 2, 3]  # one step per finished rollout, as it happened
