"""Conformance: a store publishes one event per state change on the bus it was given.

Needs a ``store`` fixture (started, empty). The suite gives the store a bus of its own (the
in-process one) unless the store already has one, subscribes to every topic, performs one
operation, and checks the events it caused: type, and the payload fields docs/events.md lists.
Any store that keeps its own state (memory, SQL, MongoDB) runs it; a client of a remote store
publishes nothing itself and does not.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from ..bus.base import Subscription
from ..bus.memory import InMemoryEventBus
from ..store.base import LightningStore
from ..types import AttemptStatus, EventType, PromptTemplate, RolloutConfig, Topic, Worker, WorkerStatus

ALL_TOPICS = [Topic.ROLLOUTS, Topic.ATTEMPTS, Topic.RESOURCES, Topic.WORKERS]
QUIET = 0.3


async def drain(sub: Subscription) -> list[tuple[str, str | None]]:
    """Events until the bus is quiet, as (type, status) pairs."""
    seen = []
    while (event := await sub.get(timeout=QUIET)) is not None:
        seen.append((event.type, event.payload.get("status")))
    return seen


class StoreEventsConformance:
    @pytest.fixture
    async def events(self, store: LightningStore) -> AsyncIterator[Subscription]:
        if store.bus is None:
            store.bus = InMemoryEventBus()
        async with store.bus.subscribe(ALL_TOPICS) as sub:
            yield sub

    async def test_enqueue_publishes_enqueued_with_its_fields(
        self, store: LightningStore, events: Subscription
    ) -> None:
        rollout = await store.enqueue_rollout({"q": 1}, mode="train")
        event = await events.get(timeout=5)
        assert event is not None and event.topic == Topic.ROLLOUTS
        assert event.type == EventType.ROLLOUT_ENQUEUED
        assert event.payload == {"rollout_id": rollout.rollout_id, "status": "queued", "mode": "train"}

    async def test_dequeue_publishes_attempt_started_and_rollout_running(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.enqueue_rollout(1)
        await drain(events)
        attempted = await store.dequeue_rollout(worker_id="w1")
        assert attempted is not None
        assert set(await drain(events)) == {
            (EventType.ATTEMPT_STARTED, "running"),
            (EventType.ROLLOUT_STATUS_CHANGED, "running"),
        }

    async def test_attempt_payload_names_rollout_attempt_sequence_worker(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.enqueue_rollout(1)
        attempted = await store.dequeue_rollout(worker_id="w1")
        assert attempted is not None
        while (event := await events.get(timeout=5)) is not None and event.topic != Topic.ATTEMPTS:
            pass
        assert event is not None and event.payload == {
            "rollout_id": attempted.rollout.rollout_id,
            "attempt_id": attempted.attempt.attempt_id,
            "sequence": 1,
            "status": "running",
            "worker_id": "w1",
        }

    async def test_success_publishes_attempt_and_rollout_succeeded(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.enqueue_rollout(1)
        attempted = await store.dequeue_rollout()
        assert attempted is not None
        await drain(events)
        await store.update_attempt(
            attempted.rollout.rollout_id, attempted.attempt.attempt_id, status=AttemptStatus.SUCCEEDED
        )
        assert set(await drain(events)) == {
            (EventType.ATTEMPT_STATUS_CHANGED, "succeeded"),
            (EventType.ROLLOUT_STATUS_CHANGED, "succeeded"),
        }

    async def test_failure_with_attempts_left_publishes_requeue(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.enqueue_rollout(1, config=RolloutConfig(max_attempts=2, retry_on=[AttemptStatus.FAILED]))
        attempted = await store.dequeue_rollout()
        assert attempted is not None
        await drain(events)
        await store.update_attempt(
            attempted.rollout.rollout_id, attempted.attempt.attempt_id, status=AttemptStatus.FAILED
        )
        assert set(await drain(events)) == {
            (EventType.ATTEMPT_STATUS_CHANGED, "failed"),
            (EventType.ROLLOUT_STATUS_CHANGED, "queued"),
        }

    async def test_last_failure_publishes_rollout_failed(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.enqueue_rollout(1)
        attempted = await store.dequeue_rollout()
        assert attempted is not None
        await drain(events)
        await store.update_attempt(
            attempted.rollout.rollout_id, attempted.attempt.attempt_id, status=AttemptStatus.FAILED
        )
        assert (EventType.ROLLOUT_STATUS_CHANGED, "failed") in await drain(events)

    async def test_cancel_publishes_attempt_failed_and_rollout_cancelled(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.enqueue_rollout(1)
        attempted = await store.dequeue_rollout()
        assert attempted is not None
        await drain(events)
        await store.cancel_rollout(attempted.rollout.rollout_id)
        assert set(await drain(events)) == {
            (EventType.ATTEMPT_STATUS_CHANGED, "failed"),
            (EventType.ROLLOUT_STATUS_CHANGED, "cancelled"),
        }

    async def test_cancel_of_a_queued_rollout_publishes_cancelled(
        self, store: LightningStore, events: Subscription
    ) -> None:
        rollout = await store.enqueue_rollout(1)
        await drain(events)
        await store.cancel_rollout(rollout.rollout_id)
        assert await drain(events) == [(EventType.ROLLOUT_STATUS_CHANGED, "cancelled")]

    async def test_watchdog_timeout_publishes_attempt_timeout_and_rollout_failed(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.enqueue_rollout(1, config=RolloutConfig(timeout_seconds=0.5, max_attempts=1))
        assert await store.dequeue_rollout() is not None
        await drain(events)
        await store.sweep(now=time.time() + 10)
        assert set(await drain(events)) == {
            (EventType.ATTEMPT_STATUS_CHANGED, "timeout"),
            (EventType.ROLLOUT_STATUS_CHANGED, "failed"),
        }

    async def test_unresponsive_then_heartbeat_publishes_both_changes(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.enqueue_rollout(1, config=RolloutConfig(unresponsive_seconds=0.5, max_attempts=2))
        attempted = await store.dequeue_rollout()
        assert attempted is not None
        await drain(events)
        await store.sweep(now=time.time() + 10)
        assert set(await drain(events)) == {
            (EventType.ATTEMPT_STATUS_CHANGED, "unresponsive"),
            (EventType.ROLLOUT_STATUS_CHANGED, "queued"),
        }
        await store.heartbeat(attempted.rollout.rollout_id, attempted.attempt.attempt_id)
        assert set(await drain(events)) == {
            (EventType.ATTEMPT_STATUS_CHANGED, "running"),
            (EventType.ROLLOUT_STATUS_CHANGED, "running"),
        }

    async def test_plain_heartbeat_changes_nothing_and_publishes_nothing(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.enqueue_rollout(1)
        attempted = await store.dequeue_rollout()
        assert attempted is not None
        await drain(events)
        await store.heartbeat(attempted.rollout.rollout_id, attempted.attempt.attempt_id)
        assert await drain(events) == []

    async def test_add_resources_publishes_resources_updated(
        self, store: LightningStore, events: Subscription
    ) -> None:
        update = await store.add_resources({"prompt": PromptTemplate(template="Hi {x}")})
        event = await events.get(timeout=5)
        assert event is not None and (event.topic, event.type) == (
            Topic.RESOURCES,
            EventType.RESOURCES_UPDATED,
        )
        assert event.payload == {"resources_id": update.resources_id, "version": update.version}

    async def test_update_worker_publishes_worker_updated(
        self, store: LightningStore, events: Subscription
    ) -> None:
        await store.update_worker(Worker(worker_id="w9", status=WorkerStatus.BUSY))
        event = await events.get(timeout=5)
        assert event is not None and (event.topic, event.type) == (Topic.WORKERS, EventType.WORKER_UPDATED)
        assert event.payload == {"worker_id": "w9", "status": "busy"}
