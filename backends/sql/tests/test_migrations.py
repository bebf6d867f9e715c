"""Alembic migrations: automatic on start, idempotent, and an upgrade from the previous revision
keeps the data and brings it to the new shape."""

from __future__ import annotations

import asyncio
import time

from agentlightning_sql import migrate
from agentlightning_sql.store import SqlStore
from sqlalchemy import Connection, text

from agentlightning_core.types import AttemptStatus, RolloutStatus, Span

from .conftest import KEY


async def _revision(store: SqlStore) -> str | None:
    return await store.pools.read(migrate.current_revision)


async def test_start_migrates_to_head_and_a_second_start_changes_nothing(db_url: str) -> None:
    async with SqlStore(db_url) as store:
        assert await _revision(store) == migrate.head_revision() == "0003"
        rollout = await store.enqueue_rollout("kept")
    async with SqlStore(db_url) as store:
        assert await _revision(store) == "0003"
        assert (await store.get_rollout(rollout.rollout_id)) is not None


async def test_concurrent_starts_on_a_new_database_both_succeed(db_url: str) -> None:
    stores = [SqlStore(db_url) for _ in range(3)]
    await asyncio.gather(*(s.start() for s in stores))
    try:
        assert {await _revision(s) for s in stores} == {"0003"}
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_upgrade_from_previous_revision_backfills_span_counters(db_url: str) -> None:
    old = SqlStore(db_url, run_migrations=False, encryption_key=KEY)
    await old.start()
    try:
        await old.migrate("0001")
        assert await _revision(old) == "0001"
        now = time.time()

        def write_old_rows(conn: Connection) -> None:  # what a 0001-era store wrote: spans numbered 1..3
            conn.execute(
                text(
                    "INSERT INTO agl_rollouts (rollout_id, status, input, config, meta, enqueue_time, "
                    "start_time, num_attempts) VALUES ('ro-old', 'running', '\"task\"', '{}', '{}', :t, :t, 1)"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO agl_attempts (attempt_id, rollout_id, sequence, status, start_time, "
                    "last_heartbeat, meta) VALUES ('at-old', 'ro-old', 1, 'running', :t, :t, '{}')"
                ),
                {"t": now},
            )
            for seq in (1, 2, 3):
                span = Span(rollout_id="ro-old", attempt_id="at-old", name=f"s{seq}", sequence_id=seq)
                conn.execute(
                    text(
                        "INSERT INTO agl_spans (rollout_id, attempt_id, attempt_seq, sequence_id, name, data) "
                        "VALUES ('ro-old', 'at-old', 1, :seq, :name, :data)"
                    ),
                    {"seq": seq, "name": span.name, "data": span.model_dump_json()},
                )

        await old.pools.write(write_old_rows)
    finally:
        await old.close()

    async with SqlStore(db_url, encryption_key=KEY) as store:  # start upgrades to head
        assert await _revision(store) == "0003"
        stored = await store.add_span(Span(rollout_id="ro-old", attempt_id="at-old", name="after-upgrade"))
        assert stored.sequence_id == 4  # the counter continues from the backfilled maximum
        assert [s.name for s in await store.query_spans("ro-old")] == ["s1", "s2", "s3", "after-upgrade"]
        await store.update_attempt("ro-old", "at-old", status=AttemptStatus.SUCCEEDED)
        rollout = await store.get_rollout("ro-old")
        assert rollout is not None and rollout.status is RolloutStatus.SUCCEEDED and rollout.input == "task"


async def test_upgrade_to_unique_span_ids_drops_stored_duplicates_and_dedupes_after(db_url: str) -> None:
    """Revision 0003: spans stored twice before it (the bug it fixes) keep their first copy, and
    a re-sent span is acknowledged without a new row."""
    old = SqlStore(db_url, run_migrations=False, encryption_key=KEY)
    await old.start()
    try:
        await old.migrate("0002")
        now = time.time()
        twice = Span(rollout_id="ro-dup", attempt_id="at-dup", name="llm", span_id="a1b2c3d4e5f60718")
        once = Span(rollout_id="ro-dup", attempt_id="at-dup", name="tool")

        def write_old_rows(conn: Connection) -> None:
            conn.execute(
                text(
                    "INSERT INTO agl_rollouts (rollout_id, status, input, config, meta, enqueue_time, "
                    "start_time, num_attempts) VALUES ('ro-dup', 'running', '1', '{}', '{}', :t, :t, 1)"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO agl_attempts (attempt_id, rollout_id, sequence, status, start_time, "
                    "last_heartbeat, meta, span_seq) VALUES ('at-dup', 'ro-dup', 1, 'running', :t, :t, '{}', 3)"
                ),
                {"t": now},
            )
            for seq, span in ((1, twice), (2, once), (3, twice)):
                conn.execute(
                    text(
                        "INSERT INTO agl_spans (rollout_id, attempt_id, attempt_seq, sequence_id, name, data) "
                        "VALUES ('ro-dup', 'at-dup', 1, :seq, :name, :data)"
                    ),
                    {
                        "seq": seq,
                        "name": span.name,
                        "data": span.model_copy(update={"sequence_id": seq}).model_dump_json(),
                    },
                )

        await old.pools.write(write_old_rows)
    finally:
        await old.close()

    async with SqlStore(db_url, encryption_key=KEY) as store:
        assert await _revision(store) == "0003"
        assert [(s.name, s.sequence_id) for s in await store.query_spans("ro-dup")] == [
            ("llm", 1),
            ("tool", 2),
        ]
        again = await store.add_span(twice)
        assert again.sequence_id == 1  # acknowledged as the stored copy
        assert len(await store.query_spans("ro-dup")) == 2
