"""The store conformance suite (see :mod:`agentlightning_core.store.base` for the rules).

Needs a ``store`` fixture yielding a started, empty store. Time-dependent rules are checked by
calling ``sweep(now=...)`` with a time in the future, so the suite is fast and deterministic; two
tests also wait for the real watchdog loop (stores are expected to sweep at least every second).

A few tests change the store's ``default_unresponsive_seconds``. For a client whose watchdog runs
elsewhere (``runs_watchdog`` false, e.g. ``HttpStore``), the fixture names the store that sweeps
as ``store.watchdog_store`` (the server's store); without it those tests are skipped.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from ..errors import AttemptSupersededError, ConflictError, InvalidRequestError, NotFoundError
from ..reward import final_reward
from ..store.base import LATEST, LightningStore
from ..types import (
    LLM,
    RETRYABLE_STATUSES,
    AttemptStatus,
    PromptTemplate,
    Reward,
    RolloutConfig,
    RolloutRequest,
    RolloutStatus,
    Span,
    SpanEvent,
    SpanStatus,
    SpanStatusCode,
    Worker,
    WorkerStatus,
)

#: three attempts, retried on every failure (``failed`` included, which the default leaves out)
RETRY3 = RolloutConfig(max_attempts=3, retry_on=list(RETRYABLE_STATUSES))
#: one attempt: the first verdict is final
ONCE = RolloutConfig(max_attempts=1)


async def _run(store: LightningStore, **kwargs: Any) -> tuple[str, str]:
    rollout = await store.enqueue_rollout({"q": 1}, **kwargs)
    got = await store.dequeue_rollout("w1")
    assert got is not None and got.rollout.rollout_id == rollout.rollout_id
    return rollout.rollout_id, got.attempt.attempt_id


def _span(rid: str, aid: str, name: str = "step", **kwargs: Any) -> Span:
    return Span(rollout_id=rid, attempt_id=aid, name=name, **kwargs)


def watchdog_store(store: LightningStore) -> LightningStore:
    """The store whose watchdog judges ``store``'s attempts (see the module docstring)."""
    if store.runs_watchdog:
        return store
    judge = getattr(store, "watchdog_store", None)
    if not isinstance(judge, LightningStore):
        pytest.skip(f"{type(store).__name__} sweeps elsewhere and the fixture names no watchdog_store")
    return judge


def _default_limit(store: LightningStore) -> float:
    limit = watchdog_store(store).default_unresponsive_seconds
    assert limit is not None, (
        "a store must come with a finite default heartbeat limit "
        "(is AGL_DEFAULT_UNRESPONSIVE_SECONDS turning it off in this environment?)"
    )
    return limit


class StoreConformance:
    """Every store backend passes these. Provide a ``store`` fixture."""

    # ------------------------------------------------------------ enqueue / get
    async def test_enqueue_returns_queued_rollout_with_id(self, store: LightningStore) -> None:
        rollout = await store.enqueue_rollout({"question": "1+1", "answer": 2})
        assert rollout.rollout_id
        assert rollout.status is RolloutStatus.QUEUED
        assert rollout.num_attempts == 0
        assert rollout.input == {"question": "1+1", "answer": 2}

    async def test_enqueue_many_preserves_order_and_unique_ids(self, store: LightningStore) -> None:
        rollouts = await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(20)])
        assert [r.input for r in rollouts] == list(range(20))
        assert len({r.rollout_id for r in rollouts}) == 20

    async def test_enqueue_empty_batch_returns_empty_list(self, store: LightningStore) -> None:
        assert await store.enqueue_rollouts([]) == []

    async def test_enqueue_roundtrips_mode_metadata_and_config(self, store: LightningStore) -> None:
        config = RolloutConfig(
            timeout_seconds=5, unresponsive_seconds=2, max_attempts=4, retry_on=[AttemptStatus.TIMEOUT]
        )
        rollout = await store.enqueue_rollout("task", mode="val", config=config, metadata={"k": [1, "x"]})
        got = await store.get_rollout(rollout.rollout_id)
        assert got is not None
        assert got.mode == "val"
        assert got.metadata == {"k": [1, "x"]}
        assert got.config == config

    async def test_enqueue_complex_json_input_roundtrips(self, store: LightningStore) -> None:
        task = {"text": "héllo ✓ \u4e2d", "nested": {"a": [1, 2.5, None, True]}, "n": 10**12}
        rollout = await store.enqueue_rollout(task)
        got = await store.get_rollout(rollout.rollout_id)
        assert got is not None and got.input == task

    async def test_enqueue_with_unknown_resources_id_is_refused(self, store: LightningStore) -> None:
        with pytest.raises(NotFoundError):
            await store.enqueue_rollout("x", resources_id="rs-does-not-exist")

    async def test_get_unknown_rollout_returns_none(self, store: LightningStore) -> None:
        assert await store.get_rollout("ro-missing") is None

    async def test_returned_rollout_is_a_copy(self, store: LightningStore) -> None:
        rollout = await store.enqueue_rollout({"a": 1})
        rollout.metadata["mutated"] = True
        rollout.status = RolloutStatus.SUCCEEDED
        got = await store.get_rollout(rollout.rollout_id)
        assert got is not None
        assert got.metadata == {} and got.status is RolloutStatus.QUEUED

    # ------------------------------------------------------------------ dequeue
    async def test_dequeue_on_empty_queue_returns_none(self, store: LightningStore) -> None:
        assert await store.dequeue_rollout() is None

    async def test_dequeue_is_fifo(self, store: LightningStore) -> None:
        await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(5)])
        seen = []
        for _ in range(5):
            got = await store.dequeue_rollout()
            assert got is not None
            seen.append(got.rollout.input)
        assert seen == [0, 1, 2, 3, 4]
        assert await store.dequeue_rollout() is None

    async def test_dequeue_starts_first_attempt(self, store: LightningStore) -> None:
        rollout = await store.enqueue_rollout("t")
        got = await store.dequeue_rollout("worker-7")
        assert got is not None
        assert got.attempt.sequence == 1
        assert got.attempt.status is AttemptStatus.RUNNING
        assert got.attempt.worker_id == "worker-7"
        assert got.attempt.rollout_id == rollout.rollout_id
        assert got.rollout.status is RolloutStatus.RUNNING

    async def test_dequeue_sets_rollout_running_with_start_time(self, store: LightningStore) -> None:
        rid, _ = await _run(store)
        got = await store.get_rollout(rid)
        assert got is not None
        assert got.status is RolloutStatus.RUNNING
        assert got.start_time is not None and got.num_attempts == 1

    async def test_dequeued_rollout_is_not_handed_out_again(self, store: LightningStore) -> None:
        await store.enqueue_rollout("only")
        assert await store.dequeue_rollout() is not None
        assert await store.dequeue_rollout() is None

    async def test_no_double_dequeue_under_50_concurrent_dequeuers(self, store: LightningStore) -> None:
        await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(40)])
        results = await asyncio.gather(*(store.dequeue_rollout(f"w{i}") for i in range(50)))
        got = [r for r in results if r is not None]
        assert len(got) == 40
        assert len({r.rollout.rollout_id for r in got}) == 40
        assert sorted(r.rollout.input for r in got) == list(range(40))

    async def test_fifo_under_concurrency_hands_out_oldest_first(self, store: LightningStore) -> None:
        await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(30)])
        first = await asyncio.gather(*(store.dequeue_rollout() for _ in range(10)))
        assert sorted(r.rollout.input for r in first if r is not None) == list(range(10))
        second = await asyncio.gather(*(store.dequeue_rollout() for _ in range(10)))
        assert sorted(r.rollout.input for r in second if r is not None) == list(range(10, 20))

    async def test_requeued_rollout_keeps_its_place_at_the_head(self, store: LightningStore) -> None:
        first = await store.enqueue_rollout("first", config=RETRY3)
        await store.enqueue_rollout("second")
        got = await store.dequeue_rollout()
        assert got is not None and got.rollout.rollout_id == first.rollout_id
        await store.update_attempt(first.rollout_id, got.attempt.attempt_id, status=AttemptStatus.FAILED)
        again = await store.dequeue_rollout()
        assert again is not None and again.rollout.rollout_id == first.rollout_id
        assert again.attempt.sequence == 2
        nxt = await store.dequeue_rollout()
        assert nxt is not None and nxt.rollout.input == "second"

    async def test_retries_go_first_in_enqueue_order(self, store: LightningStore) -> None:
        """Retries are served before fresh rollouts, and among themselves oldest first."""
        config = RolloutConfig(unresponsive_seconds=1)
        await store.enqueue_rollouts([RolloutRequest(input=i, config=config) for i in range(4)])
        taken = [await store.dequeue_rollout() for _ in range(3)]
        assert [t.rollout.input for t in taken if t is not None] == [0, 1, 2]
        await store.sweep(now=time.time() + 3)  # all three runners went silent
        order = [await store.dequeue_rollout() for _ in range(4)]
        assert [(o.rollout.input, o.attempt.sequence) for o in order if o is not None] == [
            (0, 2),
            (1, 2),
            (2, 2),
            (3, 1),
        ]

    async def test_rollout_without_config_is_retried_when_its_runner_dies(
        self, store: LightningStore
    ) -> None:
        """The default config: a crash (silence) costs an attempt, not the rollout; up to 3."""
        rollout = await store.enqueue_rollout("t")
        assert rollout.config.max_attempts == 3
        limit = _default_limit(store)
        for sequence in (1, 2, 3):
            got = await store.dequeue_rollout(f"dead-{sequence}")
            assert got is not None and got.attempt.sequence == sequence
            await store.sweep(now=time.time() + limit + 1)
        final = await store.get_rollout(rollout.rollout_id)
        assert final is not None and final.status is RolloutStatus.FAILED and final.num_attempts == 3

    async def test_agent_failure_is_not_retried_by_default(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.update_attempt(rid, aid, status=AttemptStatus.FAILED, error="bad answer")
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED and got.num_attempts == 1

    async def test_concurrent_enqueue_and_dequeue_lose_nothing(self, store: LightningStore) -> None:
        async def producer(k: int) -> None:
            for i in range(10):
                await store.enqueue_rollout({"p": k, "i": i})

        taken: list[Any] = []

        async def consumer() -> None:
            idle = 0
            while idle < 20:
                got = await store.dequeue_rollout()
                if got is None:
                    idle += 1
                    await asyncio.sleep(0.005)
                else:
                    idle = 0
                    taken.append(got.rollout.input)

        await asyncio.gather(*(producer(k) for k in range(4)), *(consumer() for _ in range(4)))
        assert len(taken) == 40
        assert {(t["p"], t["i"]) for t in taken} == {(k, i) for k in range(4) for i in range(10)}

    # ----------------------------------------------------------- attempt results
    async def test_succeeded_attempt_succeeds_rollout(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        attempt = await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        assert attempt.status is AttemptStatus.SUCCEEDED and attempt.end_time is not None
        got = await store.get_rollout(rid)
        assert got is not None
        assert got.status is RolloutStatus.SUCCEEDED and got.end_time is not None

    async def test_failed_attempt_without_retries_fails_rollout(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.update_attempt(rid, aid, status=AttemptStatus.FAILED, error="boom")
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED
        assert await store.dequeue_rollout() is None

    async def test_failed_attempt_with_retries_requeues(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RETRY3)
        await store.update_attempt(rid, aid, status=AttemptStatus.FAILED)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.QUEUED
        again = await store.dequeue_rollout("w2")
        assert again is not None and again.rollout.rollout_id == rid
        assert again.attempt.sequence == 2 and again.attempt.worker_id == "w2"
        assert again.attempt.attempt_id != aid

    async def test_gives_up_after_max_attempts(self, store: LightningStore) -> None:
        rollout = await store.enqueue_rollout("t", config=RETRY3)
        for expected in (1, 2, 3):
            got = await store.dequeue_rollout()
            assert got is not None and got.attempt.sequence == expected
            await store.update_attempt(
                rollout.rollout_id, got.attempt.attempt_id, status=AttemptStatus.FAILED
            )
        final = await store.get_rollout(rollout.rollout_id)
        assert final is not None and final.status is RolloutStatus.FAILED and final.num_attempts == 3
        assert await store.dequeue_rollout() is None
        assert len(await store.get_attempts(rollout.rollout_id)) == 3

    async def test_success_on_second_attempt(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RETRY3)
        await store.update_attempt(rid, aid, status=AttemptStatus.FAILED)
        again = await store.dequeue_rollout()
        assert again is not None
        await store.update_attempt(rid, again.attempt.attempt_id, status=AttemptStatus.SUCCEEDED)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.SUCCEEDED and got.num_attempts == 2

    async def test_retry_on_excluding_failed_fails_at_once(self, store: LightningStore) -> None:
        config = RolloutConfig(max_attempts=3, retry_on=[AttemptStatus.TIMEOUT])
        rid, aid = await _run(store, config=config)
        await store.update_attempt(rid, aid, status=AttemptStatus.FAILED)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED

    async def test_retry_on_timeout_requeues_after_timeout(self, store: LightningStore) -> None:
        config = RolloutConfig(max_attempts=2, timeout_seconds=1, retry_on=[AttemptStatus.TIMEOUT])
        rid, _ = await _run(store, config=config)
        await store.sweep(now=time.time() + 5)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.QUEUED

    async def test_update_unknown_attempt_is_not_found(self, store: LightningStore) -> None:
        rid, _ = await _run(store)
        with pytest.raises(NotFoundError):
            await store.update_attempt(rid, "at-missing", status=AttemptStatus.SUCCEEDED)

    async def test_update_attempt_of_other_rollout_is_not_found(self, store: LightningStore) -> None:
        _, aid = await _run(store)
        other = await store.enqueue_rollout("other")
        with pytest.raises(NotFoundError):
            await store.update_attempt(other.rollout_id, aid, status=AttemptStatus.SUCCEEDED)

    async def test_update_attempt_of_unknown_rollout_is_not_found(self, store: LightningStore) -> None:
        with pytest.raises(NotFoundError):
            await store.update_attempt("ro-missing", "at-missing", status=AttemptStatus.SUCCEEDED)

    async def test_ended_attempt_cannot_change_status(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.update_attempt(rid, aid, status=AttemptStatus.FAILED)
        with pytest.raises(ConflictError):
            await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED

    async def test_repeating_the_same_final_status_is_harmless(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        again = await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        assert again.status is AttemptStatus.SUCCEEDED

    async def test_update_attempt_merges_metadata_and_keeps_error(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.update_attempt(rid, aid, metadata={"a": 1})
        attempt = await store.update_attempt(
            rid, aid, metadata={"b": 2}, status=AttemptStatus.FAILED, error="bad tool"
        )
        assert attempt.metadata == {"a": 1, "b": 2}
        assert attempt.error == "bad tool"
        latest = await store.get_latest_attempt(rid)
        assert latest is not None and latest.error == "bad tool" and latest.metadata == {"a": 1, "b": 2}

    async def test_get_attempts_in_sequence_order(self, store: LightningStore) -> None:
        rollout = await store.enqueue_rollout("t", config=RETRY3)
        ids = []
        for _ in range(3):
            got = await store.dequeue_rollout()
            assert got is not None
            ids.append(got.attempt.attempt_id)
            await store.update_attempt(
                rollout.rollout_id, got.attempt.attempt_id, status=AttemptStatus.FAILED
            )
        attempts = await store.get_attempts(rollout.rollout_id)
        assert [a.attempt_id for a in attempts] == ids
        assert [a.sequence for a in attempts] == [1, 2, 3]

    async def test_get_latest_attempt(self, store: LightningStore) -> None:
        rollout = await store.enqueue_rollout("t")
        assert await store.get_latest_attempt(rollout.rollout_id) is None
        got = await store.dequeue_rollout()
        assert got is not None
        latest = await store.get_latest_attempt(rollout.rollout_id)
        assert latest is not None and latest.attempt_id == got.attempt.attempt_id

    async def test_get_attempts_of_unknown_rollout_is_not_found(self, store: LightningStore) -> None:
        with pytest.raises(NotFoundError):
            await store.get_attempts("ro-missing")

    async def test_heartbeat_moves_last_heartbeat(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        before = (await store.get_latest_attempt(rid)).last_heartbeat  # type: ignore[union-attr]
        await asyncio.sleep(0.02)
        attempt = await store.heartbeat(rid, aid)
        assert attempt.last_heartbeat > before
        assert attempt.status is AttemptStatus.RUNNING

    async def test_heartbeat_unknown_attempt_is_not_found(self, store: LightningStore) -> None:
        rid, _ = await _run(store)
        with pytest.raises(NotFoundError):
            await store.heartbeat(rid, "at-missing")

    async def test_update_attempt_counts_as_heartbeat(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=1))
        start = time.time()
        await asyncio.sleep(0.02)
        attempt = await store.update_attempt(rid, aid, metadata={"progress": 1})
        assert attempt.last_heartbeat >= start

    # ----------------------------------------------------------------- watchdog
    async def test_sweep_marks_timeout_and_fails_rollout(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(timeout_seconds=1, max_attempts=1))
        changed = await store.sweep(now=time.time() + 5)
        assert [a.attempt_id for a in changed] == [aid]
        assert changed[0].status is AttemptStatus.TIMEOUT
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED

    async def test_sweep_timeout_with_retries_requeues(self, store: LightningStore) -> None:
        rid, _ = await _run(store, config=RolloutConfig(timeout_seconds=1, max_attempts=2))
        await store.sweep(now=time.time() + 5)
        again = await store.dequeue_rollout()
        assert again is not None and again.rollout.rollout_id == rid and again.attempt.sequence == 2

    async def test_sweep_marks_silent_attempt_unresponsive(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=2))
        changed = await store.sweep(now=time.time() + 3)
        assert [(a.attempt_id, a.status) for a in changed] == [(aid, AttemptStatus.UNRESPONSIVE)]
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.QUEUED

    async def test_unresponsive_without_retries_fails_rollout(self, store: LightningStore) -> None:
        rid, _ = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=1))
        await store.sweep(now=time.time() + 3)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED

    async def test_sweep_leaves_attempts_without_limits_alone(self, store: LightningStore) -> None:
        """Only when the store's default heartbeat limit is turned off (``None``)."""
        watchdog_store(store).default_unresponsive_seconds = None
        rid, _ = await _run(store)
        assert await store.sweep(now=time.time() + 10**6) == []
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.RUNNING

    async def test_silent_attempt_without_limits_is_unresponsive_after_the_default(
        self, store: LightningStore
    ) -> None:
        limit = _default_limit(store)
        rid, aid = await _run(store, config=RolloutConfig(max_attempts=2))
        start = time.time()
        assert await store.sweep(now=start + limit / 2) == []
        changed = await store.sweep(now=start + limit + 1)
        assert [(a.attempt_id, a.status) for a in changed] == [(aid, AttemptStatus.UNRESPONSIVE)]
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.QUEUED
        again = await store.dequeue_rollout("w2")
        assert again is not None and again.rollout.rollout_id == rid and again.attempt.sequence == 2

    async def test_default_limit_also_covers_rollouts_with_only_a_timeout(
        self, store: LightningStore
    ) -> None:
        limit = _default_limit(store)
        rid, aid = await _run(store, config=RolloutConfig(timeout_seconds=limit * 10, max_attempts=1))
        changed = await store.sweep(now=time.time() + limit + 1)
        assert [(a.attempt_id, a.status) for a in changed] == [(aid, AttemptStatus.UNRESPONSIVE)]
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED

    async def test_rollout_limit_overrides_the_default(self, store: LightningStore) -> None:
        limit = _default_limit(store)
        rid, _ = await _run(store, config=RolloutConfig(unresponsive_seconds=limit * 10))
        assert await store.sweep(now=time.time() + limit + 1) == []
        latest = await store.get_latest_attempt(rid)
        assert latest is not None and latest.status is AttemptStatus.RUNNING

    async def test_default_limit_can_be_changed(self, store: LightningStore) -> None:
        watchdog_store(store).default_unresponsive_seconds = 2
        rid, aid = await _run(store)
        assert await store.sweep(now=time.time() + 1) == []
        changed = await store.sweep(now=time.time() + 3)
        assert [(a.attempt_id, a.status) for a in changed] == [(aid, AttemptStatus.UNRESPONSIVE)]

    async def test_watchdog_recovers_a_dead_runner_without_limits(self, store: LightningStore) -> None:
        """A rollout enqueued with no config at all, whose runner never reports again, ends."""
        watchdog_store(store).default_unresponsive_seconds = 0.2
        rollout = await store.enqueue_rollout("t", config=ONCE)
        assert await store.dequeue_rollout("dead-runner") is not None
        finished = await store.wait_for_rollouts([rollout.rollout_id], timeout=5)
        assert [r.status for r in finished] == [RolloutStatus.FAILED]
        latest = await store.get_latest_attempt(rollout.rollout_id)
        assert latest is not None and latest.status is AttemptStatus.UNRESPONSIVE

    async def test_sweep_before_deadline_changes_nothing(self, store: LightningStore) -> None:
        rid, _ = await _run(store, config=RolloutConfig(timeout_seconds=60, unresponsive_seconds=30))
        assert await store.sweep() == []
        latest = await store.get_latest_attempt(rid)
        assert latest is not None and latest.status is AttemptStatus.RUNNING

    async def test_sweep_ignores_finished_attempts(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(timeout_seconds=1))
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        assert await store.sweep(now=time.time() + 10) == []

    async def test_heartbeat_keeps_attempt_responsive(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=0.5))
        await asyncio.sleep(0.3)
        await store.heartbeat(rid, aid)
        assert await store.sweep(now=time.time() + 0.3) == []

    async def test_unresponsive_attempt_revived_by_heartbeat(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=2))
        await store.sweep(now=time.time() + 3)
        attempt = await store.heartbeat(rid, aid)
        assert attempt.status is AttemptStatus.RUNNING
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.RUNNING
        assert await store.dequeue_rollout() is None  # left the queue

    async def test_unresponsive_then_late_span_revives_and_is_kept(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=2))
        await store.sweep(now=time.time() + 3)
        stored = await store.add_span(_span(rid, aid, "late"))
        assert stored.sequence_id == 1
        latest = await store.get_latest_attempt(rid)
        assert latest is not None and latest.status is AttemptStatus.RUNNING
        assert [s.name for s in await store.query_spans(rid)] == ["late"]
        assert await store.dequeue_rollout() is None

    async def test_unresponsive_then_late_success_succeeds_rollout(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=2))
        await store.sweep(now=time.time() + 3)
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.SUCCEEDED
        assert await store.dequeue_rollout() is None

    async def test_superseded_attempt_writes_are_refused(self, store: LightningStore) -> None:
        """Fencing: once a newer attempt exists, the old one's spans, heartbeats and finish get
        ``attempt superseded`` (409) and change nothing."""
        rid, old = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=2))
        await store.sweep(now=time.time() + 3)
        new = await store.dequeue_rollout("w2")
        assert new is not None
        with pytest.raises(AttemptSupersededError, match="attempt superseded"):
            await store.add_span(_span(rid, old, "zombie"))
        with pytest.raises(AttemptSupersededError, match="attempt superseded"):
            await store.heartbeat(rid, old)
        with pytest.raises(AttemptSupersededError, match="attempt superseded.*'running'"):
            await store.update_attempt(rid, old, status=AttemptStatus.SUCCEEDED)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.RUNNING
        attempts = await store.get_attempts(rid)
        assert [a.status for a in attempts] == [AttemptStatus.UNRESPONSIVE, AttemptStatus.RUNNING]
        assert await store.query_spans(rid, attempt_id=old) == []

    async def test_a_rollout_has_at_most_one_succeeded_attempt(self, store: LightningStore) -> None:
        """A runner paused past its limit comes back and reports success while the retry runs:
        only the live attempt's success counts, whichever reports first."""
        config = RolloutConfig(unresponsive_seconds=1, max_attempts=3)
        rollouts = await store.enqueue_rollouts([RolloutRequest(input=i, config=config) for i in range(6)])
        stale = {}
        for _ in rollouts:
            got = await store.dequeue_rollout("paused")
            assert got is not None
            stale[got.rollout.rollout_id] = got.attempt.attempt_id
        await store.sweep(now=time.time() + 3)
        fresh = {}
        for _ in rollouts:
            got = await store.dequeue_rollout("fresh")
            assert got is not None and got.attempt.sequence == 2
            fresh[got.rollout.rollout_id] = got.attempt.attempt_id

        async def finish(rid: str, aid: str) -> bool:
            try:
                await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
            except AttemptSupersededError:
                return False
            return True

        results = await asyncio.gather(
            *(finish(rid, aid) for rid in stale for aid in (stale[rid], fresh[rid]))
        )
        assert results == [False, True] * len(rollouts)
        for rollout in rollouts:
            attempts = await store.get_attempts(rollout.rollout_id)
            assert [a.status for a in attempts].count(AttemptStatus.SUCCEEDED) == 1
            final = await store.get_rollout(rollout.rollout_id)
            assert final is not None and final.status is RolloutStatus.SUCCEEDED

    async def test_finish_after_the_rollout_ended_names_its_real_status(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=1))
        await store.sweep(now=time.time() + 3)
        with pytest.raises(AttemptSupersededError, match="the rollout is 'failed'"):
            await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED

    async def test_unresponsive_then_late_failure_uses_a_retry(self, store: LightningStore) -> None:
        config = RolloutConfig(unresponsive_seconds=1, max_attempts=2, retry_on=list(RETRYABLE_STATUSES))
        rid, aid = await _run(store, config=config)
        await store.sweep(now=time.time() + 3)
        late = await store.update_attempt(rid, aid, status=AttemptStatus.FAILED, error="late crash")
        assert late.status is AttemptStatus.FAILED and late.error == "late crash"
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.QUEUED
        again = await store.dequeue_rollout("w2")
        assert again is not None and again.rollout.rollout_id == rid and again.attempt.sequence == 2

    async def test_late_span_after_give_up_is_refused_and_reopens_nothing(
        self, store: LightningStore
    ) -> None:
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=1))
        await store.sweep(now=time.time() + 3)
        with pytest.raises(AttemptSupersededError):
            await store.add_span(_span(rid, aid, "late"))
        assert await store.query_spans(rid, attempt_id=aid) == []
        latest = await store.get_latest_attempt(rid)
        assert latest is not None and latest.status is AttemptStatus.UNRESPONSIVE
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED
        assert await store.dequeue_rollout() is None

    async def test_late_success_after_give_up_does_not_reopen_the_rollout(
        self, store: LightningStore
    ) -> None:
        """The late finish is refused with the rollout's real status; the rollout stays as it ended."""
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=1))
        await store.sweep(now=time.time() + 3)
        (failed,) = await store.wait_for_rollouts([rid], timeout=1)
        assert failed.status is RolloutStatus.FAILED
        with pytest.raises(AttemptSupersededError, match="'failed'"):
            await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        latest = await store.get_latest_attempt(rid)
        assert latest is not None and latest.status is AttemptStatus.UNRESPONSIVE
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.FAILED and got.end_time == failed.end_time

    async def test_cancel_of_a_requeued_rollout_wins_over_a_late_report(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(unresponsive_seconds=1, max_attempts=2))
        await store.sweep(now=time.time() + 3)
        cancelled = await store.cancel_rollout(rid)
        assert cancelled.status is RolloutStatus.CANCELLED
        with pytest.raises(AttemptSupersededError):
            await store.add_span(_span(rid, aid, "late"))
        with pytest.raises(AttemptSupersededError):
            await store.heartbeat(rid, aid)
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.CANCELLED
        latest = await store.get_latest_attempt(rid)
        assert latest is not None and latest.status is not AttemptStatus.RUNNING
        assert await store.dequeue_rollout() is None

    async def test_timeout_is_terminal(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RolloutConfig(timeout_seconds=1, max_attempts=2))
        await store.sweep(now=time.time() + 5)
        with pytest.raises(AttemptSupersededError):
            await store.heartbeat(rid, aid)
        with pytest.raises(AttemptSupersededError):
            await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        latest = await store.get_latest_attempt(rid)
        assert latest is not None and latest.status is AttemptStatus.TIMEOUT

    async def test_watchdog_runs_without_being_called(self, store: LightningStore) -> None:
        rollout = await store.enqueue_rollout("t", config=RolloutConfig(timeout_seconds=0.2, max_attempts=1))
        await store.dequeue_rollout()
        finished = await store.wait_for_rollouts([rollout.rollout_id], timeout=5)
        assert [r.status for r in finished] == [RolloutStatus.FAILED]
        latest = await store.get_latest_attempt(rollout.rollout_id)
        assert latest is not None and latest.status is AttemptStatus.TIMEOUT

    # ------------------------------------------------------------------- cancel
    async def test_cancel_queued_rollout(self, store: LightningStore) -> None:
        rollout = await store.enqueue_rollout("t")
        cancelled = await store.cancel_rollout(rollout.rollout_id)
        assert cancelled.status is RolloutStatus.CANCELLED and cancelled.end_time is not None
        assert await store.dequeue_rollout() is None

    async def test_cancel_running_rollout_fails_its_attempt(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RETRY3)
        await store.cancel_rollout(rid)
        latest = await store.get_latest_attempt(rid)
        assert latest is not None and latest.status is AttemptStatus.FAILED and latest.error
        got = await store.get_rollout(rid)
        assert got is not None and got.status is RolloutStatus.CANCELLED
        assert await store.dequeue_rollout() is None
        with pytest.raises(ConflictError):
            await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)

    async def test_cancel_final_rollout_changes_nothing(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        got = await store.cancel_rollout(rid)
        assert got.status is RolloutStatus.SUCCEEDED

    async def test_cancel_unknown_rollout_is_not_found(self, store: LightningStore) -> None:
        with pytest.raises(NotFoundError):
            await store.cancel_rollout("ro-missing")

    # -------------------------------------------------------------------- spans
    async def test_add_span_assigns_increasing_sequence_ids(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        seqs = [(await store.add_span(_span(rid, aid, f"s{i}"))).sequence_id for i in range(3)]
        assert seqs == [1, 2, 3]

    async def test_add_spans_batch_assigns_in_order(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        stored = await store.add_spans([_span(rid, aid, f"s{i}") for i in range(5)])
        assert [s.sequence_id for s in stored] == [1, 2, 3, 4, 5]
        assert [s.name for s in stored] == [f"s{i}" for i in range(5)]

    async def test_sequence_ids_are_per_attempt(self, store: LightningStore) -> None:
        rid1, aid1 = await _run(store)
        rid2, aid2 = await _run(store)
        await store.add_spans([_span(rid1, aid1), _span(rid1, aid1)])
        stored = await store.add_span(_span(rid2, aid2))
        assert stored.sequence_id == 1

    async def test_explicit_sequence_id_is_kept_and_counter_continues(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        explicit = await store.add_span(_span(rid, aid, "explicit", sequence_id=10))
        after = await store.add_span(_span(rid, aid, "after"))
        assert explicit.sequence_id == 10 and after.sequence_id == 11

    async def test_query_spans_ordered_by_sequence(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.add_span(_span(rid, aid, "b", sequence_id=2))
        await store.add_span(_span(rid, aid, "a", sequence_id=1))
        await store.add_span(_span(rid, aid, "c"))
        assert [s.name for s in await store.query_spans(rid)] == ["a", "b", "c"]

    async def test_query_spans_by_attempt_and_latest(self, store: LightningStore) -> None:
        rid, first = await _run(store, config=RETRY3)
        await store.add_span(_span(rid, first, "one"))
        await store.update_attempt(rid, first, status=AttemptStatus.FAILED)
        again = await store.dequeue_rollout()
        assert again is not None
        second = again.attempt.attempt_id
        await store.add_span(_span(rid, second, "two"))
        assert [s.name for s in await store.query_spans(rid)] == ["one", "two"]
        assert [s.name for s in await store.query_spans(rid, attempt_id=first)] == ["one"]
        assert [s.name for s in await store.query_spans(rid, attempt_id=LATEST)] == ["two"]

    async def test_query_spans_latest_of_undequeued_rollout_is_empty(self, store: LightningStore) -> None:
        rollout = await store.enqueue_rollout("t")
        assert await store.query_spans(rollout.rollout_id, attempt_id=LATEST) == []

    async def test_query_spans_by_name(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.add_spans([_span(rid, aid, "llm"), _span(rid, aid, "tool"), _span(rid, aid, "llm")])
        assert [s.sequence_id for s in await store.query_spans(rid, name="llm")] == [1, 3]

    async def test_query_spans_pagination(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.add_spans([_span(rid, aid, f"s{i}") for i in range(10)])
        page = await store.query_spans(rid, limit=3, offset=4)
        assert [s.name for s in page] == ["s4", "s5", "s6"]

    async def test_query_spans_unknown_rollout_is_not_found(self, store: LightningStore) -> None:
        with pytest.raises(NotFoundError):
            await store.query_spans("ro-missing")

    async def test_query_spans_unknown_attempt_is_not_found(self, store: LightningStore) -> None:
        rid, _ = await _run(store)
        with pytest.raises(NotFoundError):
            await store.query_spans(rid, attempt_id="at-missing")

    async def test_add_span_to_unknown_rollout_is_not_found(self, store: LightningStore) -> None:
        with pytest.raises(NotFoundError):
            await store.add_span(_span("ro-missing", "at-missing"))

    async def test_add_span_to_unknown_attempt_is_not_found(self, store: LightningStore) -> None:
        rid, _ = await _run(store)
        with pytest.raises(NotFoundError):
            await store.add_span(_span(rid, "at-missing"))

    async def test_span_fields_roundtrip(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        span = _span(
            rid,
            aid,
            "gen_ai.chat",
            parent_id="abcd",
            kind="client",
            end_time=time.time() + 1,
            attributes={"gen_ai.request.model": "m", "nested": {"ids": [1, 2, 3], "text": "ünï ✓"}, "f": 0.5},
            events=[SpanEvent(name="token", attributes={"i": 1})],
            status=SpanStatus(code=SpanStatusCode.ERROR, description="bad"),
            resource={"service.name": "agent"},
        )
        await store.add_span(span)
        (got,) = await store.query_spans(rid)
        assert got.model_dump(exclude={"sequence_id"}) == span.model_dump(exclude={"sequence_id"})

    async def test_large_span_attributes_roundtrip(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        ids = list(range(20000))
        await store.add_span(_span(rid, aid, "big", attributes={"ids": ids, "text": "x" * 100000}))
        (got,) = await store.query_spans(rid)
        assert got.attributes["ids"] == ids and len(got.attributes["text"]) == 100000

    async def test_spans_of_finished_attempt_are_kept(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        await store.add_span(_span(rid, aid, "after-finish"))
        assert [s.name for s in await store.query_spans(rid)] == ["after-finish"]

    async def test_concurrent_span_writers_get_unique_contiguous_ids(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await asyncio.gather(
            *(store.add_spans([_span(rid, aid, f"t{i}-{j}") for j in range(3)]) for i in range(20))
        )
        seqs = sorted(s.sequence_id or 0 for s in await store.query_spans(rid))
        assert seqs == list(range(1, 61))

    async def test_batch_keeps_order_within_batch_under_concurrency(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await asyncio.gather(
            *(store.add_spans([_span(rid, aid, f"b{i}-{j}") for j in range(4)]) for i in range(5))
        )
        spans = await store.query_spans(rid)
        for i in range(5):
            mine = [s.sequence_id or 0 for s in spans if s.name.startswith(f"b{i}-")]
            assert mine == sorted(mine) and len(mine) == 4

    async def test_rewards_roundtrip_as_spans(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.add_spans(
            [
                Reward(value=0.25, name="format").to_span(rid, aid),
                Reward(value=1.0).to_span(rid, aid),
            ]
        )
        spans = await store.query_spans(rid)
        assert [s.span_type for s in spans] == ["reward", "reward"]
        assert final_reward(spans) == 1.0
        assert Reward.from_span(spans[0]).name == "format"

    async def test_the_same_batch_sent_twice_is_stored_once(self, store: LightningStore) -> None:
        """Idempotent spans: a re-sent batch (its answer was lost) is acknowledged, not duplicated."""
        rid, aid = await _run(store)
        batch = [_span(rid, aid, f"s{i}") for i in range(5)]
        first = await store.add_spans(batch)
        again = await store.add_spans(batch)
        assert [(s.span_id, s.sequence_id) for s in again] == [(s.span_id, s.sequence_id) for s in first]
        stored = await store.query_spans(rid)
        assert [s.name for s in stored] == [f"s{i}" for i in range(5)]
        assert len({s.span_id for s in stored}) == 5

    async def test_overlapping_batches_store_each_span_once(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        spans = [_span(rid, aid, f"s{i}") for i in range(6)]
        await store.add_spans(spans[:4])
        answered = await store.add_spans(spans[2:])
        assert [s.name for s in answered] == ["s2", "s3", "s4", "s5"]
        stored = await store.query_spans(rid)
        assert [s.name for s in stored] == [f"s{i}" for i in range(6)]
        assert sorted(s.sequence_id or 0 for s in stored) == sorted({s.sequence_id or 0 for s in stored})

    async def test_a_span_twice_in_one_batch_is_stored_once(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        span = _span(rid, aid, "once")
        answered = await store.add_spans([span, _span(rid, aid, "other"), span])
        assert answered[0].sequence_id == answered[2].sequence_id
        assert [s.name for s in await store.query_spans(rid)] == ["once", "other"]

    async def test_concurrent_resends_store_each_span_once(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        batches = [[_span(rid, aid, f"b{i}-{j}") for j in range(3)] for i in range(5)]
        await asyncio.gather(*(store.add_spans(b) for b in batches for _ in range(3)))
        stored = await store.query_spans(rid)
        assert len(stored) == 15 and len({s.span_id for s in stored}) == 15

    async def test_the_same_span_id_in_two_attempts_is_two_spans(self, store: LightningStore) -> None:
        rid, first = await _run(store, config=RETRY3)
        await store.add_span(_span(rid, first, "one", span_id="0011223344556677"))
        await store.update_attempt(rid, first, status=AttemptStatus.FAILED)
        again = await store.dequeue_rollout()
        assert again is not None
        await store.add_span(_span(rid, again.attempt.attempt_id, "two", span_id="0011223344556677"))
        assert [s.name for s in await store.query_spans(rid)] == ["one", "two"]

    async def test_spans_of_many_attempts_in_one_batch(self, store: LightningStore) -> None:
        r1, a1 = await _run(store)
        r2, a2 = await _run(store)
        stored = await store.add_spans([_span(r1, a1, "x"), _span(r2, a2, "y"), _span(r1, a1, "z")])
        assert [(s.rollout_id, s.sequence_id) for s in stored] == [(r1, 1), (r2, 1), (r1, 2)]

    # ---------------------------------------------------------------- resources
    async def test_add_resources_creates_first_version(self, store: LightningStore) -> None:
        update = await store.add_resources({"prompt": PromptTemplate(template="Hi {name}")})
        assert update.version == 1 and update.resources_id
        latest = await store.get_resources()
        assert latest is not None and latest.resources_id == update.resources_id

    async def test_resources_versions_increase_and_latest_is_newest(self, store: LightningStore) -> None:
        ids = []
        for i in range(3):
            ids.append((await store.add_resources({"p": PromptTemplate(template=f"v{i}")})).resources_id)
        latest = await store.get_resources()
        assert latest is not None and latest.resources_id == ids[-1] and latest.version == 3

    async def test_get_resources_by_id(self, store: LightningStore) -> None:
        first = await store.add_resources({"p": PromptTemplate(template="one")})
        await store.add_resources({"p": PromptTemplate(template="two")})
        got = await store.get_resources(first.resources_id)
        assert got is not None and got.resources["p"].template == "one"  # type: ignore[union-attr]

    async def test_get_unknown_resources_returns_none(self, store: LightningStore) -> None:
        assert await store.get_resources("rs-missing") is None

    async def test_latest_resources_when_none_published_is_none(self, store: LightningStore) -> None:
        assert await store.get_resources() is None

    async def test_query_resources_oldest_first_with_pages(self, store: LightningStore) -> None:
        for i in range(5):
            await store.add_resources({"p": PromptTemplate(template=f"v{i}")})
        page = await store.query_resources(limit=2, offset=1)
        assert page.total == 5
        assert [u.version for u in page.items] == [2, 3]

    async def test_llm_and_prompt_resources_roundtrip(self, store: LightningStore) -> None:
        llm = LLM(
            endpoint="http://localhost:1/v1",
            model="m",
            sampling_parameters={"temperature": 0.7},
            api_key="sk-secret",
            proxied=True,
            weights_version=3,
        )
        prompt = PromptTemplate(template="Solve {q}", engine="f-string")
        update = await store.add_resources({"main_llm": llm, "prompt": prompt})
        got = await store.get_resources(update.resources_id)
        assert got is not None
        got_llm = got.resources["main_llm"]
        assert isinstance(got_llm, LLM)
        assert got_llm.api_key is not None and got_llm.api_key.get_secret_value() == "sk-secret"
        assert got_llm.model_dump(exclude={"api_key"}) == llm.model_dump(exclude={"api_key"})
        assert got.resources["prompt"] == prompt

    async def test_rollout_names_its_resources(self, store: LightningStore) -> None:
        update = await store.add_resources({"p": PromptTemplate(template="x")})
        rollout = await store.enqueue_rollout("t", resources_id=update.resources_id)
        got = await store.dequeue_rollout()
        assert got is not None and got.rollout.resources_id == update.resources_id == rollout.resources_id

    # ------------------------------------------------------------------ queries
    async def test_query_rollouts_by_status(self, store: LightningStore) -> None:
        await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(3)])
        got = await store.dequeue_rollout()
        assert got is not None
        rid, aid = got.rollout.rollout_id, got.attempt.attempt_id
        page = await store.query_rollouts(status=[RolloutStatus.QUEUED])
        assert [r.input for r in page.items] == [1, 2] and page.total == 2
        page = await store.query_rollouts(status=[RolloutStatus.RUNNING])
        assert [r.input for r in page.items] == [0]
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        page = await store.query_rollouts(status=[RolloutStatus.SUCCEEDED, RolloutStatus.QUEUED])
        assert page.total == 3

    async def test_query_rollouts_by_mode(self, store: LightningStore) -> None:
        await store.enqueue_rollouts(
            [RolloutRequest(input=i, mode="train" if i % 2 else "val") for i in range(6)]
        )
        page = await store.query_rollouts(mode="train")
        assert [r.input for r in page.items] == [1, 3, 5]

    async def test_query_rollouts_by_ids(self, store: LightningStore) -> None:
        rollouts = await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(5)])
        wanted = [rollouts[3].rollout_id, rollouts[1].rollout_id, "ro-missing"]
        page = await store.query_rollouts(rollout_ids=wanted)
        assert sorted(r.input for r in page.items) == [1, 3] and page.total == 2

    async def test_query_rollouts_pagination_and_total(self, store: LightningStore) -> None:
        await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(10)])
        page = await store.query_rollouts(limit=4, offset=2)
        assert [r.input for r in page.items] == [2, 3, 4, 5]
        assert page.total == 10 and page.limit == 4 and page.offset == 2
        tail = await store.query_rollouts(limit=4, offset=8)
        assert [r.input for r in tail.items] == [8, 9]

    async def test_query_rollouts_descending(self, store: LightningStore) -> None:
        await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(4)])
        page = await store.query_rollouts(descending=True, limit=2)
        assert [r.input for r in page.items] == [3, 2]
        rest = await store.query_rollouts(descending=True, offset=1)
        assert [r.input for r in rest.items] == [2, 1, 0] and rest.total == 4
        beyond = await store.query_rollouts(descending=True, limit=3, offset=9)
        assert beyond.items == [] and beyond.total == 4

    async def test_query_rollouts_combined_filters(self, store: LightningStore) -> None:
        await store.enqueue_rollouts([RolloutRequest(input=i, mode="val") for i in range(3)])
        await store.enqueue_rollouts([RolloutRequest(input=10 + i, mode="train") for i in range(3)])
        page = await store.query_rollouts(mode="train", status=[RolloutStatus.QUEUED], limit=2)
        assert [r.input for r in page.items] == [10, 11] and page.total == 3

    async def test_search_rollouts_by_resources_version_and_text(self, store: LightningStore) -> None:
        v1 = await store.add_resources({"p": PromptTemplate(template="a")})
        await store.enqueue_rollouts(
            [
                RolloutRequest(
                    input={"question": f"What is {i}+1? 100%_sure"},
                    mode="train" if i % 2 else "val",
                    resources_id=v1.resources_id if i < 4 else None,
                )
                for i in range(8)
            ]
        )
        page = await store.search_rollouts(resources_id=v1.resources_id, limit=2)
        assert [r.input["question"][:9] for r in page.items] == ["What is 3", "What is 2"]  # newest first
        assert page.total == 4
        page = await store.search_rollouts(text="WHAT IS 5+", mode="train")
        assert [r.input["question"] for r in page.items] == ["What is 5+1? 100%_sure"]
        assert (await store.search_rollouts(text="what is 5+", mode="val")).total == 0
        assert (await store.search_rollouts(text="0%_s")).total == 8  # % and _ are literal
        assert (await store.search_rollouts(text="0%%s")).total == 0
        one = page.items[0].rollout_id
        assert [r.rollout_id for r in (await store.search_rollouts(text=one[-6:])).items] == [one]
        everything = await store.search_rollouts(status=[RolloutStatus.QUEUED], limit=3, offset=6)
        assert everything.total == 8 and len(everything.items) == 2

    async def test_query_with_negative_limit_is_invalid(self, store: LightningStore) -> None:
        with pytest.raises(InvalidRequestError):
            await store.query_rollouts(limit=-1)
        with pytest.raises(InvalidRequestError):
            await store.query_rollouts(offset=-5)

    async def test_query_empty_store(self, store: LightningStore) -> None:
        page = await store.query_rollouts()
        assert page.items == [] and page.total == 0

    # ------------------------------------------------------------------ workers
    async def test_update_worker_inserts_and_replaces(self, store: LightningStore) -> None:
        await store.update_worker(Worker(worker_id="w1", hostname="h", pid=1))
        await store.update_worker(Worker(worker_id="w2"))
        await store.update_worker(
            Worker(worker_id="w1", status=WorkerStatus.BUSY, current_rollout_ids=["ro-1"])
        )
        workers = {w.worker_id: w for w in await store.query_workers()}
        assert set(workers) == {"w1", "w2"}
        assert workers["w1"].status is WorkerStatus.BUSY and workers["w1"].current_rollout_ids == ["ro-1"]
        assert workers["w1"].hostname is None

    # -------------------------------------------------------------------- waits
    async def test_wait_returns_at_once_for_finished_rollouts(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        start = time.monotonic()
        done = await store.wait_for_rollouts([rid], timeout=10)
        assert [r.rollout_id for r in done] == [rid]
        assert time.monotonic() - start < 1

    async def test_wait_wakes_on_completion(self, store: LightningStore) -> None:
        rid, aid = await _run(store)

        async def finish_later() -> None:
            await asyncio.sleep(0.1)
            await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)

        start = time.monotonic()
        task = asyncio.create_task(finish_later())
        done = await store.wait_for_rollouts([rid], timeout=30)
        await task
        assert [r.status for r in done] == [RolloutStatus.SUCCEEDED]
        assert time.monotonic() - start < 2  # woke on the change, not on a long poll

    async def test_wait_times_out_with_finished_subset(self, store: LightningStore) -> None:
        r1, a1 = await _run(store)
        r2, _ = await _run(store)
        await store.update_attempt(r1, a1, status=AttemptStatus.SUCCEEDED)
        start = time.monotonic()
        done = await store.wait_for_rollouts([r1, r2], timeout=0.3)
        assert [r.rollout_id for r in done] == [r1]
        assert 0.25 <= time.monotonic() - start < 3

    async def test_wait_wakes_on_failure_and_cancel(self, store: LightningStore) -> None:
        r1, a1 = await _run(store)
        r2 = (await store.enqueue_rollout("queued")).rollout_id

        async def end_both() -> None:
            await asyncio.sleep(0.05)
            await store.update_attempt(r1, a1, status=AttemptStatus.FAILED)
            await store.cancel_rollout(r2)

        task = asyncio.create_task(end_both())
        done = await store.wait_for_rollouts([r1, r2], timeout=10)
        await task
        assert [r.status for r in done] == [RolloutStatus.FAILED, RolloutStatus.CANCELLED]

    async def test_wait_unknown_rollout_is_not_found(self, store: LightningStore) -> None:
        with pytest.raises(NotFoundError):
            await store.wait_for_rollouts(["ro-missing"], timeout=0.1)

    async def test_wait_with_duplicate_ids(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        done = await store.wait_for_rollouts([rid, rid], timeout=1)
        assert [r.rollout_id for r in done] == [rid]

    async def test_many_waiters_all_wake(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        waiters = [asyncio.create_task(store.wait_for_rollouts([rid], timeout=10)) for _ in range(10)]
        await asyncio.sleep(0.05)
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        results = await asyncio.gather(*waiters)
        assert all([r.rollout_id for r in res] == [rid] for res in results)

    async def test_wait_does_not_return_requeued_rollout(self, store: LightningStore) -> None:
        rid, aid = await _run(store, config=RETRY3)
        await store.update_attempt(rid, aid, status=AttemptStatus.FAILED)
        assert await store.wait_for_rollouts([rid], timeout=0.2) == []

    # --------------------------------------------------------------- statistics
    async def test_statistics_counts(self, store: LightningStore) -> None:
        rid, aid = await _run(store)
        await store.enqueue_rollouts([RolloutRequest(input=i) for i in range(3)])
        await store.add_spans([_span(rid, aid), _span(rid, aid)])
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        await store.add_resources({"p": PromptTemplate(template="x")})
        stats = await store.statistics()
        assert stats["rollouts"]["total"] == 4
        assert stats["rollouts"]["queued"] == 3
        assert stats["rollouts"]["succeeded"] == 1
        assert stats["attempts"]["total"] == 1
        assert stats["spans"]["total"] == 2
        assert stats["resources"]["versions"] == 1
        assert isinstance(stats["backend"], str)

    # ------------------------------------------------------------ full lifecycle
    async def test_full_lifecycle_with_spans_and_reward(self, store: LightningStore) -> None:
        resources = await store.add_resources({"llm": LLM(endpoint="http://x/v1", model="m")})
        rollout = await store.enqueue_rollout({"q": "2+2"}, mode="train", resources_id=resources.resources_id)
        got = await store.dequeue_rollout("w")
        assert got is not None
        rid, aid = got.rollout.rollout_id, got.attempt.attempt_id
        await store.heartbeat(rid, aid)
        await store.add_spans([_span(rid, aid, "gen_ai.chat"), Reward(value=1.0).to_span(rid, aid)])
        await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        (done,) = await store.wait_for_rollouts([rollout.rollout_id], timeout=5)
        assert done.status is RolloutStatus.SUCCEEDED and done.mode == "train"
        assert final_reward(await store.query_spans(rid, attempt_id=LATEST)) == 1.0
