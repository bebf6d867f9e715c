"""PostgreSQL's hot statements on the asyncpg driver (``postgres_direct.py``): compiled SQL, and a
connection that dies under the store."""

from __future__ import annotations

import asyncpg
import pytest
from agentlightning_sql import postgres_direct as direct
from agentlightning_sql.settings import SqlSettings
from agentlightning_sql.store import SqlStore

from agentlightning_core.errors import BackendUnavailableError
from agentlightning_core.types import AttemptStatus, RolloutRequest, Span


def test_statements_compile_to_asyncpg_placeholders_with_their_literals_filled() -> None:
    for statement in (
        direct.TAKE_AND_START,
        direct.RESERVE_SPAN_IDS,
        direct.FINISH_SUCCEEDED,
        direct.HEARTBEAT,
    ):
        assert "$1" in statement.sql and ":" not in statement.sql.replace("::", "")
        assert statement.names
    args = direct.HEARTBEAT.args({"b_attempt_id": "at-1", "b_rollout_id": "ro-1", "now": 5.0})
    assert args[:3] == [5.0, "at-1", "ro-1"] and args[3] == AttemptStatus.UNRESPONSIVE.value


async def test_the_hot_path_stores_what_the_full_rules_would(pg_url: str) -> None:
    async with SqlStore(pg_url) as store:
        await store.enqueue_rollouts([RolloutRequest(input={"i": 1})])
        got = await store.dequeue_rollout("w-1")
        assert got is not None and got.attempt.worker_id == "w-1" and got.rollout.num_attempts == 1
        rid, aid = got.rollout.rollout_id, got.attempt.attempt_id
        stored = await store.add_spans([Span(rollout_id=rid, attempt_id=aid, name=f"s{i}") for i in range(3)])
        more = await store.add_spans([Span(rollout_id=rid, attempt_id=aid, name="s3")])
        assert [s.sequence_id for s in stored + more] == [1, 2, 3, 4]
        beat = await store.heartbeat(rid, aid)
        assert beat.last_heartbeat >= got.attempt.last_heartbeat
        done = await store.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        assert done.status is AttemptStatus.SUCCEEDED and done.end_time is not None
        rollout = await store.get_rollout(rid)
        assert rollout is not None and rollout.status.value == "succeeded"
        spans = await store.query_spans(rid)
        assert [(s.name, s.sequence_id) for s in spans] == [("s0", 1), ("s1", 2), ("s2", 3), ("s3", 4)]


async def test_a_connection_killed_under_the_store_fails_one_call_with_503_then_the_pool_recovers(
    pg_url: str,
) -> None:
    settings = SqlSettings(db_pool_size=1, db_max_overflow=0, db_pool_pre_ping=False)
    async with SqlStore(pg_url, settings=settings) as store:
        await store.enqueue_rollouts([RolloutRequest(input={"i": i}) for i in range(2)])
        first = await store.dequeue_rollout("w")  # the pool's one connection, now warm
        assert first is not None
        database = pg_url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(pg_url)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await admin.close()
        assert killed == 1
        with pytest.raises(BackendUnavailableError, match="lost the PostgreSQL connection"):
            await store.dequeue_rollout("w")
        second = await store.dequeue_rollout("w")  # a new connection; nothing was taken by the failed call
        assert second is not None and second.rollout.rollout_id != first.rollout.rollout_id
        assert second.rollout.input == {"i": 1}
