"""The runner's life cycle: dequeue → resources → agent → spans and reward → finish, over a real
in-memory store (its watchdog on), with the failure paths a long training run meets."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from agentlightning_core import LLM, PromptTemplate, emit_reward, rollout
from agentlightning_core.agent import LitAgent
from agentlightning_core.reward import final_reward
from agentlightning_core.runner import EndedBy, Runner
from agentlightning_core.runtime.context import current_context
from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.types import (
    RETRYABLE_STATUSES,
    AttemptStatus,
    RolloutConfig,
    RolloutStatus,
    Span,
    WorkerStatus,
)

from .conftest import running


async def wait_final(store: InMemoryStore, rollout_ids: Sequence[str], timeout: float = 10.0) -> list[Any]:
    done = await store.wait_for_rollouts(rollout_ids, timeout=timeout)
    assert len(done) == len(rollout_ids), f"only {len(done)}/{len(rollout_ids)} rollouts finished"
    return done


async def test_returned_float_becomes_the_reward_span(store: InMemoryStore) -> None:
    @rollout
    async def agent(task: dict[str, int]) -> float:
        return task["a"] * 0.25

    ro = await store.enqueue_rollout({"a": 2})
    async with running(Runner(agent, store)):
        (done,) = await wait_final(store, [ro.rollout_id])
    assert done.status is RolloutStatus.SUCCEEDED
    spans = await store.query_spans(ro.rollout_id)
    assert [s.span_type for s in spans] == ["reward"]
    assert final_reward(spans) == 0.5
    (attempt,) = await store.get_attempts(ro.rollout_id)
    assert attempt.status is AttemptStatus.SUCCEEDED


async def test_sync_agent_runs_in_a_thread_and_emit_reward_reaches_the_store(store: InMemoryStore) -> None:
    threads: list[str] = []

    @rollout
    def agent(task: int) -> None:
        threads.append(threading.current_thread().name)
        emit_reward(0.1, name="format")
        emit_reward(task / 10)

    ro = await store.enqueue_rollout(7)
    async with running(Runner(agent, store)):
        (done,) = await wait_final(store, [ro.rollout_id])
    assert done.status is RolloutStatus.SUCCEEDED
    assert threads and threads[0] != threading.main_thread().name
    spans = await store.query_spans(ro.rollout_id)
    rewards = [
        (s.attributes["agentlightning.reward.name"], s.attributes["agentlightning.reward.value"])
        for s in spans
    ]
    assert rewards == [("format", 0.1), ("reward", 0.7)]
    assert final_reward(spans) == 0.7


async def test_lit_agent_subclass_receives_task_resources_and_rollout(store: InMemoryStore) -> None:
    seen: dict[str, Any] = {}

    class Agent(LitAgent[dict[str, str]]):
        async def rollout(self, task: dict[str, str], resources: Any, rollout: Any) -> float:
            seen.update(task=task, resources=dict(resources), rollout_id=rollout.rollout_id)
            return 1.0

    update = await store.add_resources({"prompt": PromptTemplate(template="Q: {q}")})
    ro = await store.enqueue_rollout({"q": "2+2"}, resources_id=update.resources_id)
    async with running(Runner(Agent(), store)):
        await wait_final(store, [ro.rollout_id])
    assert seen["task"] == {"q": "2+2"}
    assert seen["rollout_id"] == ro.rollout_id
    assert seen["resources"]["prompt"].format(q="x") == "Q: x"


async def test_exception_fails_the_attempt_with_its_text_and_the_rollout_is_retried(
    store: InMemoryStore,
) -> None:
    calls: list[int] = []

    @rollout
    async def flaky(task: str) -> float:
        calls.append(1)
        if len(calls) < 3:
            raise ValueError(f"bad luck #{len(calls)}")
        return 1.0

    ro = await store.enqueue_rollout(
        "t", config=RolloutConfig(max_attempts=3, retry_on=list(RETRYABLE_STATUSES))
    )
    runner = Runner(flaky, store)
    async with running(runner):
        (done,) = await wait_final(store, [ro.rollout_id])
    assert done.status is RolloutStatus.SUCCEEDED
    attempts = await store.get_attempts(ro.rollout_id)
    assert [a.status for a in attempts] == [
        AttemptStatus.FAILED,
        AttemptStatus.FAILED,
        AttemptStatus.SUCCEEDED,
    ]
    assert attempts[0].error == "ValueError: bad luck #1"
    assert "raise ValueError" in attempts[0].metadata["traceback"]
    assert "agentlightning_core/runner" not in attempts[0].metadata["traceback"]  # user frames only
    assert (runner.stats.failed, runner.stats.succeeded) == (2, 1)


async def test_exception_on_the_last_attempt_fails_the_rollout(store: InMemoryStore) -> None:
    @rollout
    def broken(task: str) -> float:
        raise KeyError("missing")

    ro = await store.enqueue_rollout(
        "t", config=RolloutConfig(max_attempts=2, retry_on=list(RETRYABLE_STATUSES))
    )
    async with running(Runner(broken, store)):
        (done,) = await wait_final(store, [ro.rollout_id])
    assert done.status is RolloutStatus.FAILED
    assert [a.error for a in await store.get_attempts(ro.rollout_id)] == ["KeyError: 'missing'"] * 2


async def test_a_non_numeric_return_value_fails_with_a_clear_error(store: InMemoryStore) -> None:
    @rollout
    def wrong(task: str) -> Any:
        return "1.0"

    ro = await store.enqueue_rollout("t")
    async with running(Runner(wrong, store)):
        await wait_final(store, [ro.rollout_id])
    (attempt,) = await store.get_attempts(ro.rollout_id)
    assert attempt.status is AttemptStatus.FAILED
    assert attempt.error is not None and "returned str" in attempt.error


async def test_concurrency_runs_exactly_n_rollouts_at_once(store: InMemoryStore) -> None:
    active = 0
    peak = 0

    @rollout
    async def agent(task: int) -> float:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return 1.0

    rollouts = [await store.enqueue_rollout(i) for i in range(12)]
    runner = Runner(agent, store, concurrency=4)
    async with running(runner):
        await wait_final(store, [r.rollout_id for r in rollouts])
    assert peak == 4
    assert runner.stats.succeeded == 12


async def test_heartbeats_keep_a_slow_rollout_alive_past_unresponsive_seconds(store: InMemoryStore) -> None:
    @rollout
    async def slow(task: str) -> float:
        await asyncio.sleep(1.0)
        return 1.0

    config = RolloutConfig(unresponsive_seconds=0.25, max_attempts=1)
    ro = await store.enqueue_rollout("t", config=config)
    async with running(Runner(slow, store)):
        await asyncio.sleep(0.6)
        (attempt,) = await store.get_attempts(ro.rollout_id)
        assert attempt.status is AttemptStatus.RUNNING  # the watchdog (every 20 ms) saw it alive
        assert attempt.last_heartbeat > attempt.start_time + 0.3
        (done,) = await wait_final(store, [ro.rollout_id])
    assert done.status is RolloutStatus.SUCCEEDED
    assert done.num_attempts == 1


async def test_cancel_mid_rollout_stops_the_agent_and_the_runner_moves_on(store: InMemoryStore) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @rollout
    async def agent(task: str) -> float:
        if task == "forever":
            started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return 1.0

    long = await store.enqueue_rollout("forever")
    runner = Runner(agent, store, heartbeat_interval=0.05)
    async with running(runner):
        await asyncio.wait_for(started.wait(), 5)
        await store.cancel_rollout(long.rollout_id)
        await asyncio.wait_for(cancelled.wait(), 5)
        after = await store.enqueue_rollout("quick")
        (done,) = await wait_final(store, [after.rollout_id])
        assert done.status is RolloutStatus.SUCCEEDED
    assert (await store.get_rollout(long.rollout_id)).status is RolloutStatus.CANCELLED  # type: ignore[union-attr]
    assert runner.stats.ended_by_store == 1
    (attempt,) = await store.get_attempts(long.rollout_id)
    assert attempt.status is AttemptStatus.FAILED and attempt.error == "rollout cancelled"


async def test_timeout_seconds_is_enforced_by_the_runner(store: InMemoryStore) -> None:
    @rollout
    async def hangs(task: str) -> float:
        await asyncio.sleep(3600)
        return 1.0

    ro = await store.enqueue_rollout("t", config=RolloutConfig(timeout_seconds=0.2, max_attempts=1))
    runner = Runner(hangs, store, heartbeat_interval=10.0)
    async with running(runner):
        (done,) = await wait_final(store, [ro.rollout_id])
    assert done.status is RolloutStatus.FAILED
    (attempt,) = await store.get_attempts(ro.rollout_id)
    assert attempt.status is AttemptStatus.TIMEOUT


class CountingStore(InMemoryStore):
    """The real in-memory store, counting ``add_spans`` calls and their sizes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batches: list[int] = []

    async def add_spans(self, spans: Sequence[Span]) -> list[Span]:
        self.batches.append(len(spans))
        return await super().add_spans(spans)


@pytest.fixture
async def counting_store() -> Any:
    async with CountingStore(watchdog_interval=0.02) as store:
        yield store


def record_steps(n: int) -> None:
    ctx = current_context()
    assert ctx is not None
    for i in range(n):
        ctx.record_span(Span(rollout_id="", attempt_id="", name=f"step-{i}"))


async def test_spans_of_a_short_rollout_go_in_one_add_spans_call(counting_store: CountingStore) -> None:
    @rollout
    def agent(task: str) -> float:
        record_steps(7)
        return 1.0

    ro = await counting_store.enqueue_rollout("t")
    async with running(Runner(agent, counting_store)):
        await wait_final(counting_store, [ro.rollout_id])
    assert counting_store.batches == [8]  # 7 steps + the reward, one call
    spans = await counting_store.query_spans(ro.rollout_id)
    assert [s.name for s in spans][:7] == [f"step-{i}" for i in range(7)]
    assert [s.sequence_id for s in spans] == list(range(1, 9))
    (attempt,) = await counting_store.get_attempts(ro.rollout_id)
    assert {s.attempt_id for s in spans} == {attempt.attempt_id}


async def test_long_rollouts_flush_periodically_and_batches_respect_the_size_limit(
    counting_store: CountingStore,
) -> None:
    seen_midway: list[int] = []
    ro = await counting_store.enqueue_rollout("t")

    @rollout
    async def agent(task: str) -> float:
        record_steps(5)
        await asyncio.sleep(0.3)  # several flush intervals
        seen_midway.append(len(await counting_store.query_spans(ro.rollout_id)))
        record_steps(2)
        return 1.0

    async with running(Runner(agent, counting_store, flush_interval=0.05, max_batch_spans=2)):
        await wait_final(counting_store, [ro.rollout_id])
    assert seen_midway == [5]  # sent while the agent was still running
    assert counting_store.batches == [2, 2, 1, 2, 1]  # 5 then (2 + reward), at most 2 per call
    assert len(await counting_store.query_spans(ro.rollout_id)) == 8


async def test_each_attempt_gets_its_own_copies_and_a_proxied_llm_routed_to_it(store: InMemoryStore) -> None:
    got: list[dict[str, Any]] = []

    @rollout
    def agent(task: str, resources: Any, rollout: Any) -> float:
        ctx = current_context()
        assert ctx is not None
        got.append(
            {"attempt_id": ctx.attempt_id, **{k: v.model_copy(deep=True) for k, v in resources.items()}}
        )
        resources["llm"].sampling_parameters["temperature"] = 99  # must not leak to the next attempt
        if len(got) == 1:
            raise RuntimeError("retry me")
        return 1.0

    update = await store.add_resources(
        {
            "llm": LLM(
                endpoint="http://127.0.0.1:4747/v1",
                model="m",
                proxied=True,
                sampling_parameters={"temperature": 0.5},
            ),
            "judge": LLM(endpoint="https://api.example.com/v1", model="j"),
            "prompt": PromptTemplate(template="{q}"),
        }
    )
    ro = await store.enqueue_rollout(
        "t",
        resources_id=update.resources_id,
        config=RolloutConfig(max_attempts=2, retry_on=list(RETRYABLE_STATUSES)),
    )
    async with running(Runner(agent, store)):
        await wait_final(store, [ro.rollout_id])
    assert len(got) == 2
    for item in got:
        assert item["llm"].endpoint == (
            f"http://127.0.0.1:4747/rollout/{ro.rollout_id}/attempt/{item['attempt_id']}/v1"
        )
        assert item["llm"].sampling_parameters == {"temperature": 0.5}
        assert item["judge"].endpoint == "https://api.example.com/v1"  # not proxied: untouched
    assert got[0]["attempt_id"] != got[1]["attempt_id"]
    stored = await store.get_resources(update.resources_id)
    assert stored is not None and stored.resources["llm"].endpoint == "http://127.0.0.1:4747/v1"


async def test_rollouts_without_resources_id_get_the_latest_version_at_dequeue(store: InMemoryStore) -> None:
    templates: list[str] = []

    @rollout
    def agent(task: str, prompt_template: PromptTemplate) -> float:
        templates.append(prompt_template.template)
        return 1.0

    runner = Runner(agent, store)
    await store.add_resources({"p": PromptTemplate(template="v1")})
    first = await store.enqueue_rollout("a")
    async with running(runner):
        await wait_final(store, [first.rollout_id])
        await store.add_resources({"p": PromptTemplate(template="v2")})
        second = await store.enqueue_rollout("b")
        await wait_final(store, [second.rollout_id])
    assert templates == ["v1", "v2"]


async def test_a_rollout_naming_missing_resources_fails_without_running_the_agent(
    store: InMemoryStore,
) -> None:
    ran: list[str] = []

    @rollout
    def agent(task: str) -> float:
        ran.append(task)
        return 1.0

    update = await store.add_resources({"p": PromptTemplate(template="x")})
    ro = await store.enqueue_rollout("t", resources_id=update.resources_id)
    store._resources.clear()  # the version disappears between enqueue and dequeue (e.g. a wiped store)
    async with running(Runner(agent, store)):
        (done,) = await wait_final(store, [ro.rollout_id])
    assert ran == []
    assert done.status is RolloutStatus.FAILED
    (attempt,) = await store.get_attempts(ro.rollout_id)
    assert attempt.error is not None and "could not fetch resources" in attempt.error
    assert update.resources_id in attempt.error


async def test_graceful_stop_lets_in_flight_attempts_finish(store: InMemoryStore) -> None:
    started = asyncio.Event()

    @rollout
    async def agent(task: str) -> float:
        started.set()
        await asyncio.sleep(0.3)
        return 1.0

    ro = await store.enqueue_rollout("t")
    runner = Runner(agent, store)
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(started.wait(), 5)
    runner.stop(grace=10)
    queued_later = await store.enqueue_rollout("not taken")
    stats = await asyncio.wait_for(task, 10)
    assert stats.succeeded == 1 and stats.dequeued == 1
    assert (await store.get_rollout(ro.rollout_id)).status is RolloutStatus.SUCCEEDED  # type: ignore[union-attr]
    assert (await store.get_rollout(queued_later.rollout_id)).status is RolloutStatus.QUEUED  # type: ignore[union-attr]


async def test_stop_without_grace_fails_in_flight_attempts_so_they_are_retried(store: InMemoryStore) -> None:
    started = asyncio.Event()

    @rollout
    async def agent(task: str) -> float:
        started.set()
        await asyncio.sleep(3600)
        return 1.0

    ro = await store.enqueue_rollout(
        "t", config=RolloutConfig(max_attempts=2, retry_on=list(RETRYABLE_STATUSES))
    )
    runner = Runner(agent, store)
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(started.wait(), 5)
    runner.stop(grace=0)
    stats = await asyncio.wait_for(task, 10)
    assert stats.aborted == 1
    (attempt,) = await store.get_attempts(ro.rollout_id)
    assert attempt.status is AttemptStatus.FAILED
    assert attempt.error is not None and "stopped before the attempt finished" in attempt.error
    assert (await store.get_rollout(ro.rollout_id)).status is RolloutStatus.QUEUED  # type: ignore[union-attr]
    assert stats.reports[-1].ended_by is EndedBy.RUNNER


async def test_stop_from_another_thread(store: InMemoryStore) -> None:
    @rollout
    def agent(task: str) -> float:
        return 1.0

    ro = await store.enqueue_rollout("t")
    runner = Runner(agent, store)
    task = asyncio.create_task(runner.run())
    await wait_final(store, [ro.rollout_id])
    await asyncio.to_thread(runner.stop)
    stats = await asyncio.wait_for(task, 5)  # stop() called from another thread ends run()
    assert stats.dequeued == 1 and stats.succeeded == 1
    assert (await store.get_rollout(ro.rollout_id)).status is RolloutStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_max_rollouts_ends_the_run(store: InMemoryStore) -> None:
    @rollout
    def agent(task: int) -> float:
        return 1.0

    rollouts = [await store.enqueue_rollout(i) for i in range(5)]
    stats = await asyncio.wait_for(Runner(agent, store, max_rollouts=3).run(), 10)
    assert stats.succeeded == 3
    statuses = [(await store.get_rollout(r.rollout_id)).status for r in rollouts]  # type: ignore[union-attr]
    assert statuses.count(RolloutStatus.QUEUED) == 2


async def test_worker_record_shows_busy_rollouts_then_stopped(store: InMemoryStore) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    @rollout
    async def agent(task: str) -> float:
        started.set()
        await release.wait()
        return 1.0

    ro = await store.enqueue_rollout("t")
    runner = Runner(agent, store, worker_id="w-test")
    async with running(runner):
        await asyncio.wait_for(started.wait(), 5)
        deadline = time.monotonic() + 5
        while True:
            (worker,) = await store.query_workers()
            if worker.status is WorkerStatus.BUSY or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        assert worker.worker_id == "w-test"
        assert worker.status is WorkerStatus.BUSY
        assert worker.current_rollout_ids == [ro.rollout_id]
        (attempt,) = await store.get_attempts(ro.rollout_id)
        assert attempt.worker_id == "w-test"
        release.set()
        await wait_final(store, [ro.rollout_id])
    (worker,) = await store.query_workers()
    assert worker.status is WorkerStatus.STOPPED and worker.current_rollout_ids == []


class FlakyStore(InMemoryStore):
    """The real in-memory store whose first calls fail like a server that is restarting."""

    def __init__(self, failures: dict[str, int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures

    def _maybe_fail(self, name: str) -> None:
        if self.failures.get(name, 0) > 0:
            self.failures[name] -= 1
            raise ConnectionError(f"{name}: connection refused")

    async def dequeue_rollout(self, worker_id: str | None = None) -> Any:
        self._maybe_fail("dequeue_rollout")
        return await super().dequeue_rollout(worker_id)

    async def add_spans(self, spans: Sequence[Span]) -> list[Span]:
        self._maybe_fail("add_spans")
        return await super().add_spans(spans)

    async def update_attempt(self, rollout_id: str, attempt_id: str, **kwargs: Any) -> Any:
        self._maybe_fail("update_attempt")
        return await super().update_attempt(rollout_id, attempt_id, **kwargs)


async def test_the_runner_survives_a_store_that_fails_for_a_while() -> None:
    failures = {"dequeue_rollout": 2, "add_spans": 2, "update_attempt": 2}

    @rollout
    def agent(task: str) -> float:
        return 0.5

    async with FlakyStore(failures, watchdog_interval=0.02) as store:
        ro = await store.enqueue_rollout("t")
        async with running(Runner(agent, store)):
            (done,) = await wait_final(store, [ro.rollout_id])
        assert done.status is RolloutStatus.SUCCEEDED
        assert final_reward(await store.query_spans(ro.rollout_id)) == 0.5
    assert failures == {"dequeue_rollout": 0, "add_spans": 0, "update_attempt": 0}


class SlowAnswerStore(InMemoryStore):
    """Stores each batch at once but answers it late, as a busy server or a slow network does:
    the runner's periodic flush is still waiting for the answer when the agent ends."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent: list[str] = []

    async def add_spans(self, spans: Sequence[Span]) -> list[Span]:
        stored = await super().add_spans(spans)
        self.sent.extend(s.span_id for s in spans)
        await asyncio.sleep(0.3)
        return stored


async def test_a_flush_in_flight_when_the_agent_ends_is_not_sent_again() -> None:
    """The race behind duplicated spans: the periodic flush used to be cancelled mid-send when
    the attempt ended, and the final flush re-sent the batch the store had already stored."""
    async with SlowAnswerStore(watchdog_interval=0.02) as store:

        @rollout
        async def agent(task: str) -> float:
            record_steps(3)
            await asyncio.sleep(0.15)  # ends while the flush at 0.1 s waits for its answer
            return 1.0

        ro = await store.enqueue_rollout("t")
        async with running(Runner(agent, store, flush_interval=0.1)):
            await wait_final(store, [ro.rollout_id])
        stored = await store.query_spans(ro.rollout_id)
        assert len(stored) == 4  # three steps and the reward
        assert sorted(store.sent) == sorted(s.span_id for s in stored)  # each sent exactly once


async def test_a_superseded_attempt_stops_its_agent_and_logs_one_line(
    store: InMemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A runner that was paused past its limit: the store gave up on its attempt and handed the
    rollout to another worker; its next heartbeat is refused and it stops working on it."""
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @rollout
    async def agent(task: str) -> float:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1.0

    ro = await store.enqueue_rollout("t", config=RolloutConfig(unresponsive_seconds=5))
    runner = Runner(agent, store, heartbeat_interval=0.05)
    with caplog.at_level("INFO", logger="agentlightning_core.runner"):
        async with running(runner):
            await asyncio.wait_for(started.wait(), 5)
            await store.sweep(now=time.time() + 60)  # as if the runner had been stopped for a minute
            other = await store.dequeue_rollout("other-worker")
            assert other is not None and other.attempt.sequence == 2
            await asyncio.wait_for(cancelled.wait(), 5)
            await store.update_attempt(
                ro.rollout_id, other.attempt.attempt_id, status=AttemptStatus.SUCCEEDED
            )
    attempts = await store.get_attempts(ro.rollout_id)
    assert [a.status for a in attempts] == [AttemptStatus.UNRESPONSIVE, AttemptStatus.SUCCEEDED]
    lines = [r.getMessage() for r in caplog.records if "attempt superseded" in r.getMessage()]
    assert len(lines) == 1 and "stopped" in lines[0]
    assert runner.stats.ended_by_store == 1
