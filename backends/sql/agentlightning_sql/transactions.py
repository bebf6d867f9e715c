"""The store's transactions, as synchronous SQLAlchemy Core functions of one ``Connection``.

``Pools.write`` runs one inside a write transaction (``BEGIN IMMEDIATE`` on SQLite, row locks
on PostgreSQL) and commits it; ``Pools.read`` runs one on a read connection. Functions that
change a rollout's state lock the rollout's and the attempt's rows (``FOR UPDATE``; SQLite's
writer already holds the database lock), load them as models, apply the shared rules
(``lifecycle.py``) and write back what changed. They return what the store needs to publish
events after the commit.

The hot path stays at a few statements per call: dequeue is one ``UPDATE ... RETURNING`` on the
oldest queued row plus the attempt ``INSERT``; a heartbeat is one ``UPDATE``; a batch of spans is
one counter ``UPDATE`` per attempt plus one multi-row ``INSERT``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Float,
    String,
    Text,
    bindparam,
    case,
    func,
    insert,
    literal,
    null,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agentlightning_core.errors import NotFoundError
from agentlightning_core.store.transitions import (
    CANCELLED_ERROR,
    check_live,
    check_status_change,
    overdue_status,
)
from agentlightning_core.types import (
    Attempt,
    AttemptStatus,
    Rollout,
    RolloutConfig,
    RolloutStatus,
    Span,
    new_id,
)

from .lifecycle import decide_rollout, end_attempt, is_latest, touch
from .rows import (
    ATTEMPT_COLUMNS,
    ROLLOUT_COLUMNS,
    attempt_from_row,
    attempt_values,
    dumps,
    rollout_from_row,
    rollout_values,
    span_values,
)
from .schema import QUEUE_SEQUENCE, attempts, resources, rollouts, spans

RUNNING = AttemptStatus.RUNNING.value
UNRESPONSIVE = AttemptStatus.UNRESPONSIVE.value
FINAL_ROLLOUT = [s.value for s in RolloutStatus if s.is_final]

# Statements of the hot path are built once: building a Core statement costs ~10x executing it.
_ROLLOUT_NUM_ATTEMPTS = select(rollouts.c.num_attempts).where(
    rollouts.c.rollout_id == bindparam("rollout_id")
)
_LOCK = (
    select(*ROLLOUT_COLUMNS, *ATTEMPT_COLUMNS)
    .select_from(attempts.join(rollouts, rollouts.c.rollout_id == attempts.c.rollout_id))
    .where(attempts.c.attempt_id == bindparam("attempt_id"), attempts.c.rollout_id == bindparam("rollout_id"))
    .with_for_update()
)
_SAVE_ATTEMPT = (
    update(attempts)
    .where(attempts.c.attempt_id == bindparam("b_attempt_id"))
    .values(
        status=bindparam("status"),
        end_time=bindparam("end_time"),
        last_heartbeat=bindparam("last_heartbeat"),
        error=bindparam("error"),
        meta=bindparam("meta"),
    )
)
#: queue positions of requeued rollouts: below every fresh position (those count up from 1), in
#: enqueue order (``pk``), so a retry goes to the head of the queue and keeps its original rank
RETRY_POSITION_OFFSET = 2**62
_RETRY_POSITION = case(
    (bindparam("requeue", type_=Boolean), rollouts.c.pk - RETRY_POSITION_OFFSET), else_=null()
)
_SAVE_ROLLOUT = (
    update(rollouts)
    .where(rollouts.c.rollout_id == bindparam("b_rollout_id"))
    .values(status=bindparam("status"), end_time=bindparam("end_time"), queue_seq=_RETRY_POSITION)
)
_SAVE_BOTH_PG = (  # PostgreSQL: attempt and rollout (at the head of the queue if requeued) in one statement
    update(rollouts)
    .where(rollouts.c.rollout_id == bindparam("b_rollout_id"))
    .values(status=bindparam("r_status"), end_time=bindparam("r_end_time"), queue_seq=_RETRY_POSITION)
    .add_cte(
        update(attempts)
        .where(attempts.c.attempt_id == bindparam("b_attempt_id"))
        .values(
            status=bindparam("a_status"),
            end_time=bindparam("a_end_time"),
            last_heartbeat=bindparam("a_last_heartbeat"),
            error=bindparam("a_error"),
            meta=bindparam("a_meta"),
        )
        .cte("saved_attempt")
    )
)
_PG_POSITIONS = select(QUEUE_SEQUENCE.next_value()).select_from(func.generate_series(1, bindparam("count")))
_SQLITE_LAST_POSITION = select(func.coalesce(func.max(rollouts.c.queue_seq), 0)).where(
    rollouts.c.queue_seq > 0  # fresh positions only: retries sit below zero
)
_OLDEST = (
    select(rollouts.c.pk).where(rollouts.c.queue_seq.is_not(None)).order_by(rollouts.c.queue_seq).limit(1)
)


def _take(oldest: Any) -> Any:
    return (
        update(rollouts)
        .where(rollouts.c.pk == oldest.scalar_subquery())
        .values(
            status=RolloutStatus.RUNNING.value,
            queue_seq=None,
            num_attempts=rollouts.c.num_attempts + 1,
            start_time=func.coalesce(rollouts.c.start_time, bindparam("now")),
        )
        .returning(*rollouts.c)
    )


_TAKE_SQLITE = _take(_OLDEST)
_TAKE_PG = _take(_OLDEST.with_for_update(skip_locked=True))  # concurrent dequeuers skip each other's row


def _take_and_start() -> Any:
    """PostgreSQL: dequeue and the attempt's INSERT as one statement (one round trip, autocommit)."""
    taken = _TAKE_PG.cte("taken")
    started = (
        insert(attempts)
        .from_select(
            [
                "attempt_id",
                "rollout_id",
                "sequence",
                "worker_id",
                "status",
                "start_time",
                "last_heartbeat",
                "meta",
            ],
            select(
                bindparam("attempt_id", type_=String),
                taken.c.rollout_id,
                taken.c.num_attempts,
                bindparam("worker_id", type_=String),
                literal(RUNNING, String),
                bindparam("now", type_=Float),
                bindparam("now", type_=Float),
                literal("{}", Text),
            ),
        )
        .cte("started")
    )
    return select(taken).add_cte(started)


_TAKE_AND_START_PG = _take_and_start()
_INSERT_ROLLOUTS = insert(rollouts)
_INSERT_ATTEMPT = insert(attempts)
_SPAN_KEY = (spans.c.rollout_id, spans.c.attempt_id, spans.c.span_id)
#: idempotent spans: a span already stored (same rollout, attempt and span id) is skipped
_INSERT_SPANS_PG = (
    pg_insert(spans).on_conflict_do_nothing(index_elements=list(_SPAN_KEY)).returning(*_SPAN_KEY)
)
_INSERT_SPANS_SQLITE = (
    sqlite_insert(spans).on_conflict_do_nothing(index_elements=list(_SPAN_KEY)).returning(*_SPAN_KEY)
)
_GET_ROLLOUT = select(rollouts).where(rollouts.c.rollout_id == bindparam("rollout_id"))
_UNFINISHED = select(rollouts.c.rollout_id, rollouts.c.status).where(
    rollouts.c.rollout_id.in_(bindparam("ids", expanding=True))
)
_HEARTBEAT = (
    update(attempts)
    .where(
        attempts.c.attempt_id == bindparam("b_attempt_id"),
        attempts.c.rollout_id == bindparam("b_rollout_id"),
        attempts.c.status == RUNNING,  # a running attempt is always its rollout's live one
    )
    .values(last_heartbeat=bindparam("now"))
    .returning(*attempts.c)
)
_RESERVE_SPAN_IDS = (
    update(attempts)
    .where(
        attempts.c.attempt_id == bindparam("b_attempt_id"),
        attempts.c.rollout_id == bindparam("b_rollout_id"),
        attempts.c.status == RUNNING,  # anything else takes the full rules (fencing, revival)
    )
    .values(last_heartbeat=bindparam("now"), span_seq=attempts.c.span_seq + bindparam("reserve"))
    .returning(attempts.c.sequence, attempts.c.span_seq)
)
_SET_SPAN_COUNTER = (
    update(attempts)
    .where(attempts.c.attempt_id == bindparam("b_attempt_id"))
    .values(span_seq=bindparam("counter"))
)
_ATTEMPTS_OF = select(attempts).where(attempts.c.rollout_id == bindparam("rollout_id"))
_ALL_ATTEMPTS = _ATTEMPTS_OF.order_by(attempts.c.sequence)
_LATEST_ATTEMPT = _ATTEMPTS_OF.order_by(attempts.c.sequence.desc()).limit(1)
_RUNNING_ATTEMPTS = (
    select(
        attempts.c.attempt_id,
        attempts.c.rollout_id,
        attempts.c.sequence,
        attempts.c.start_time,
        attempts.c.last_heartbeat,
        rollouts.c.config,
    )
    .select_from(attempts.join(rollouts, rollouts.c.rollout_id == attempts.c.rollout_id))
    .where(attempts.c.status == RUNNING)
)


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


@dataclass
class Changes:
    """What a transaction changed, for the events published after the commit."""

    attempts: list[Attempt] = field(default_factory=list)
    rollouts: list[Rollout] = field(default_factory=list)


# ---------------------------------------------------------------------------- helpers
def require_rollout(conn: Connection, rollout_id: str) -> int:
    """The rollout's ``num_attempts``; ``NotFoundError`` if it does not exist."""
    found = conn.execute(_ROLLOUT_NUM_ATTEMPTS, {"rollout_id": rollout_id}).first()
    if found is None:
        raise NotFoundError(f"rollout {rollout_id!r} does not exist")
    return int(found[0])


def lock(conn: Connection, rollout_id: str, attempt_id: str) -> tuple[Rollout, Attempt, int]:
    """Load (and on PostgreSQL lock) a rollout with one of its attempts, and the span counter."""
    row = conn.execute(_LOCK, {"attempt_id": attempt_id, "rollout_id": rollout_id}).mappings().first()
    if row is None:
        require_rollout(conn, rollout_id)
        raise NotFoundError(f"attempt {attempt_id!r} of rollout {rollout_id!r} does not exist")
    return rollout_from_row(row, "r_"), attempt_from_row(row, "a_"), int(row["a_span_seq"])


def save(conn: Connection, rollout: Rollout, attempt: Attempt, rollout_changed: bool) -> None:
    """Write back an attempt (and its rollout when it changed) loaded by ``lock``."""
    if rollout_changed and is_postgres(conn):
        conn.execute(
            _SAVE_BOTH_PG,
            {
                "b_rollout_id": rollout.rollout_id,
                "r_status": rollout.status.value,
                "r_end_time": rollout.end_time,
                "requeue": rollout.status is RolloutStatus.QUEUED,
                "b_attempt_id": attempt.attempt_id,
                "a_status": attempt.status.value,
                "a_end_time": attempt.end_time,
                "a_last_heartbeat": attempt.last_heartbeat,
                "a_error": attempt.error,
                "a_meta": dumps(attempt.metadata),
            },
        )
        return
    conn.execute(
        _SAVE_ATTEMPT,
        {
            "b_attempt_id": attempt.attempt_id,
            "status": attempt.status.value,
            "end_time": attempt.end_time,
            "last_heartbeat": attempt.last_heartbeat,
            "error": attempt.error,
            "meta": dumps(attempt.metadata),
        },
    )
    if not rollout_changed:
        return
    conn.execute(
        _SAVE_ROLLOUT,
        {
            "b_rollout_id": rollout.rollout_id,
            "status": rollout.status.value,
            "end_time": rollout.end_time,
            "requeue": rollout.status is RolloutStatus.QUEUED,
        },
    )


def next_queue_positions(conn: Connection, count: int) -> list[int]:
    """``count`` increasing queue positions after every queued rollout's."""
    if is_postgres(conn):
        return sorted(conn.execute(_PG_POSITIONS, {"count": count}).scalars())
    # SQLite: this runs under the database's write lock, so max + 1 cannot race
    base = int(conn.execute(_SQLITE_LAST_POSITION).scalar_one())
    return list(range(base + 1, base + count + 1))


@functools.lru_cache(maxsize=1024)
def parsed_config(text_: str) -> RolloutConfig:
    """Rollout configs for the watchdog's pre-check (read-only use)."""
    return RolloutConfig.model_validate_json(text_)


# --------------------------------------------------------------------------- rollouts
def existing_resources(conn: Connection, wanted: set[str]) -> set[str]:
    stmt = select(resources.c.resources_id).where(resources.c.resources_id.in_(wanted))
    return set(conn.execute(stmt).scalars())


def enqueue(conn: Connection, created: list[Rollout]) -> None:
    positions = next_queue_positions(conn, len(created))
    conn.execute(
        _INSERT_ROLLOUTS,
        [{**rollout_values(r), "queue_seq": pos} for r, pos in zip(created, positions, strict=True)],
    )


def dequeue(conn: Connection, worker_id: str | None) -> tuple[Rollout, Attempt] | None:
    now = time.time()
    take = _TAKE_PG if is_postgres(conn) else _TAKE_SQLITE
    row = conn.execute(take, {"now": now}).mappings().first()
    if row is None:
        return None
    rollout = rollout_from_row(row)
    attempt = Attempt(
        rollout_id=rollout.rollout_id,
        sequence=rollout.num_attempts,
        worker_id=worker_id,
        start_time=now,
        last_heartbeat=now,
    )
    conn.execute(_INSERT_ATTEMPT, attempt_values(attempt))
    return rollout, attempt


def dequeue_in_one_statement(conn: Connection, worker_id: str | None) -> tuple[Rollout, Attempt] | None:
    """PostgreSQL's dequeue: atomic as one statement, so it runs in autocommit."""
    now = time.time()
    attempt_id = new_id("at")
    params = {"now": now, "attempt_id": attempt_id, "worker_id": worker_id}
    row = conn.execute(_TAKE_AND_START_PG, params).mappings().first()
    if row is None:
        return None
    rollout = rollout_from_row(row)
    attempt = Attempt(
        rollout_id=rollout.rollout_id,
        attempt_id=attempt_id,
        sequence=rollout.num_attempts,
        worker_id=worker_id,
        start_time=now,
        last_heartbeat=now,
    )
    return rollout, attempt


def get_rollout(conn: Connection, rollout_id: str) -> Rollout | None:
    row = conn.execute(_GET_ROLLOUT, {"rollout_id": rollout_id}).mappings().first()
    return rollout_from_row(row) if row is not None else None


def query_rollouts(
    conn: Connection, conditions: list[Any], descending: bool, limit: int | None, offset: int
) -> tuple[list[Rollout], int]:
    total = int(conn.execute(select(func.count()).select_from(rollouts).where(*conditions)).scalar_one())
    if total <= offset or limit == 0:
        return [], total
    order = rollouts.c.pk.desc() if descending else rollouts.c.pk.asc()
    stmt = select(rollouts).where(*conditions).order_by(order).offset(offset).limit(limit)
    return [rollout_from_row(r) for r in conn.execute(stmt).mappings()], total


def unfinished(conn: Connection, ids: list[str]) -> tuple[set[str], set[str]]:
    """(ids that exist, ids that exist and are not final)."""
    rows = conn.execute(_UNFINISHED, {"ids": ids})
    known, pending = set(), set()
    for rid, status in rows:
        known.add(rid)
        if status not in FINAL_ROLLOUT:
            pending.add(rid)
    return known, pending


def cancel(conn: Connection, rollout_id: str) -> tuple[Rollout, Changes]:
    now = time.time()
    stmt = select(rollouts).where(rollouts.c.rollout_id == rollout_id).with_for_update()
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise NotFoundError(f"rollout {rollout_id!r} does not exist")
    rollout = rollout_from_row(row)
    changes = Changes()
    if rollout.status.is_final:
        return rollout, changes
    ended = conn.execute(
        update(attempts)
        .where(attempts.c.rollout_id == rollout_id, attempts.c.status.in_([RUNNING, UNRESPONSIVE]))
        .values(status=AttemptStatus.FAILED.value, end_time=now, error=CANCELLED_ERROR)
        .returning(*attempts.c)
    ).mappings()
    changes.attempts = sorted((attempt_from_row(r) for r in ended), key=lambda a: a.sequence)
    rollout.status = RolloutStatus.CANCELLED
    rollout.end_time = now
    conn.execute(
        update(rollouts)
        .where(rollouts.c.rollout_id == rollout_id)
        .values(status=rollout.status.value, end_time=now, queue_seq=None)
    )
    changes.rollouts.append(rollout)
    return rollout, changes


# --------------------------------------------------------------------------- attempts
def get_attempts(conn: Connection, rollout_id: str, latest_only: bool) -> list[Attempt]:
    stmt = _LATEST_ATTEMPT if latest_only else _ALL_ATTEMPTS
    found = [attempt_from_row(r) for r in conn.execute(stmt, {"rollout_id": rollout_id}).mappings()]
    if not found:
        require_rollout(conn, rollout_id)
    return found


def update_attempt(
    conn: Connection,
    rollout_id: str,
    attempt_id: str,
    status: AttemptStatus | None,
    error: str | None,
    metadata: dict[str, Any] | None,
) -> tuple[Attempt, Changes]:
    now = time.time()
    rollout, attempt, _ = lock(conn, rollout_id, attempt_id)
    check_live(rollout, attempt, is_latest(rollout, attempt))
    if status is not None:
        check_status_change(attempt, status)
    revived = touch(rollout, attempt, now)
    if metadata:
        attempt.metadata.update(metadata)
    if error is not None:
        attempt.error = error
    rollout_changed = revived
    attempt_event = revived
    if status is not None and status is not attempt.status:
        if status is not AttemptStatus.RUNNING:  # RUNNING is only reachable by revival
            end_attempt(attempt, status, error, now)
            rollout_changed = decide_rollout(rollout, attempt, now) or rollout_changed
        attempt_event = True
    save(conn, rollout, attempt, rollout_changed)
    return attempt, Changes(
        attempts=[attempt] if attempt_event else [], rollouts=[rollout] if rollout_changed else []
    )


def _finish_succeeded_sql() -> Any:
    """One PostgreSQL statement for the common end of a rollout: its latest attempt, running,
    reports success while the rollout is running. Locks both rows (as ``_LOCK`` does), ends
    both, and returns them; no row when anything else holds (the full rules apply then)."""
    a_cols = ", ".join(f"done_attempt.{c.name} AS a_{c.name}" for c in attempts.c)
    r_cols = ", ".join(f"done_rollout.{c.name} AS r_{c.name}" for c in rollouts.c)
    return text(
        f"""
        WITH target AS (
            SELECT a.attempt_id AS a_id, r.pk AS r_pk
            FROM {attempts.name} a JOIN {rollouts.name} r ON r.rollout_id = a.rollout_id
            WHERE a.attempt_id = :attempt_id AND a.rollout_id = :rollout_id
              AND a.status = :running AND r.status = :running AND r.num_attempts = a.sequence
            FOR UPDATE
        ), done_attempt AS (
            UPDATE {attempts.name} SET status = :succeeded, end_time = :now, last_heartbeat = :now
            WHERE attempt_id = (SELECT a_id FROM target)
            RETURNING *
        ), done_rollout AS (
            UPDATE {rollouts.name} SET status = :succeeded, end_time = :now
            WHERE pk = (SELECT r_pk FROM target)
            RETURNING *
        )
        SELECT {a_cols}, {r_cols} FROM done_attempt, done_rollout
        """
    )


_FINISH_SUCCEEDED_PG = _finish_succeeded_sql()


def finish_succeeded(conn: Connection, rollout_id: str, attempt_id: str) -> tuple[Attempt, Changes] | None:
    """``update_attempt(status=SUCCEEDED)`` in the common case as one autocommit statement
    (PostgreSQL); ``None`` when the full rules are needed. Replaces BEGIN, a locking SELECT, an
    UPDATE and COMMIT: four round trips and four statements for the database to run."""
    params = {
        "attempt_id": attempt_id,
        "rollout_id": rollout_id,
        "now": time.time(),
        "running": AttemptStatus.RUNNING.value,
        "succeeded": AttemptStatus.SUCCEEDED.value,
    }
    row = conn.execute(_FINISH_SUCCEEDED_PG, params).mappings().first()
    if row is None:
        return None
    attempt, rollout = attempt_from_row(row, "a_"), rollout_from_row(row, "r_")
    return attempt, Changes(attempts=[attempt], rollouts=[rollout])


def heartbeat_running(conn: Connection, rollout_id: str, attempt_id: str) -> Attempt | None:
    """The common heartbeat (a running attempt) as one statement; ``None`` when it needs the full
    rules of ``heartbeat`` (unknown, ended or unresponsive attempt: fencing, revival)."""
    params = {"b_attempt_id": attempt_id, "b_rollout_id": rollout_id, "now": time.time()}
    row = conn.execute(_HEARTBEAT, params).mappings().first()
    return attempt_from_row(row) if row is not None else None


def heartbeat(conn: Connection, rollout_id: str, attempt_id: str) -> tuple[Attempt, Changes]:
    now = time.time()
    found = heartbeat_running(conn, rollout_id, attempt_id)
    if found is not None:
        return found, Changes()
    # unknown, ended or unresponsive: the full rules (fencing, revival) under lock
    rollout, attempt, _ = lock(conn, rollout_id, attempt_id)
    revived = touch(rollout, attempt, now)
    save(conn, rollout, attempt, revived)
    return attempt, Changes([attempt], [rollout]) if revived else Changes()


# ------------------------------------------------------------------------------ spans
def add_spans(conn: Connection, batch: Sequence[Span]) -> tuple[list[Span], Changes]:
    groups: dict[tuple[str, str], list[int]] = {}
    for index, span in enumerate(batch):
        groups.setdefault((span.rollout_id, span.attempt_id), []).append(index)
    stored: list[Span] = list(batch)
    rows: list[tuple[int, dict[str, Any]]] = []
    changes = Changes()
    now = time.time()
    for (rollout_id, attempt_id), indexes in groups.items():
        explicit = any(batch[i].sequence_id is not None for i in indexes)
        reserve = 0 if explicit else len(indexes)
        params = {"b_attempt_id": attempt_id, "b_rollout_id": rollout_id, "now": now, "reserve": reserve}
        row = conn.execute(_RESERVE_SPAN_IDS, params).first()
        if row is not None:
            attempt_seq, counter = int(row[0]), int(row[1]) - reserve
            write_counter = explicit
        else:  # unknown, ended or unresponsive (fencing; a late report may revive it)
            rollout, attempt, counter = lock(conn, rollout_id, attempt_id)
            revived = touch(rollout, attempt, now)
            save(conn, rollout, attempt, revived)
            if revived:
                changes.attempts.append(attempt)
                changes.rollouts.append(rollout)
            attempt_seq, write_counter = attempt.sequence, True
        for i in indexes:
            span = batch[i]
            if span.sequence_id is None:
                counter += 1
                span = span.model_copy(update={"sequence_id": counter})
            else:
                counter = max(counter, span.sequence_id)
                span = span.model_copy()
            stored[i] = span
            rows.append((i, span_values(span, attempt_seq)))
        if write_counter:
            conn.execute(_SET_SPAN_COUNTER, {"b_attempt_id": attempt_id, "counter": counter})
    rows.sort(key=lambda pair: pair[0])
    return insert_spans(conn, stored, [row for _, row in rows]), changes


def add_spans_of_running_attempt(conn: Connection, batch: list[Span]) -> list[Span] | None:
    """The common batch (one running attempt, ids left to the store) as two statements that need
    no transaction around them: reserve the ids with the heartbeat, then insert. ``None`` when
    the attempt is unknown or unresponsive: ``add_spans`` then applies the full rules.

    Were the process to die between the two, the reserved ids would stay unused: a gap in the
    numbering, never a duplicate.
    """
    first = batch[0]
    params = {
        "b_attempt_id": first.attempt_id,
        "b_rollout_id": first.rollout_id,
        "now": time.time(),
        "reserve": len(batch),
    }
    row = conn.execute(_RESERVE_SPAN_IDS, params).first()
    if row is None:
        return None
    attempt_seq, last = int(row[0]), int(row[1]) - len(batch)
    stored = [s.model_copy(update={"sequence_id": last + i}) for i, s in enumerate(batch, 1)]
    return insert_spans(conn, stored, [span_values(s, attempt_seq) for s in stored])


def insert_spans(conn: Connection, stored: list[Span], rows: list[dict[str, Any]]) -> list[Span]:
    """Insert ``rows`` (the values of ``stored``, same order); a span already stored, or twice in
    the batch, is not inserted again and is answered with the copy stored first.

    The common case (nothing re-sent) costs nothing more than the ``RETURNING`` of the keys.
    """
    keys = [(s.rollout_id, s.attempt_id, s.span_id) for s in stored]
    first: dict[tuple[str, str, str], int] = {}
    fresh_rows = []
    for i, (key, row) in enumerate(zip(keys, rows, strict=True)):
        if key not in first:
            first[key] = i
            fresh_rows.append(row)
    stmt = _INSERT_SPANS_PG if is_postgres(conn) else _INSERT_SPANS_SQLITE
    inserted = {tuple(r) for r in conn.execute(stmt, fresh_rows)}
    if len(inserted) == len(keys):
        return stored
    older = [key for key in first if key not in inserted]
    existing: dict[tuple[str, str, str], Span] = {}
    if older:
        found = conn.execute(select(*_SPAN_KEY, spans.c.data).where(tuple_(*_SPAN_KEY).in_(older)))
        existing = {(r, a, sid): Span.model_validate_json(data) for r, a, sid, data in found}
    return [existing.get(key) or stored[first[key]] for key in keys]


def query_spans(
    conn: Connection,
    rollout_id: str,
    attempt_id: str | None,
    latest: bool,
    name: str | None,
    limit: int | None,
    offset: int,
) -> list[Span]:
    num_attempts = require_rollout(conn, rollout_id)
    conditions = [spans.c.rollout_id == rollout_id]
    if latest:
        if num_attempts == 0:
            return []
        conditions.append(spans.c.attempt_seq == num_attempts)
    elif attempt_id is not None:
        exists = select(attempts.c.sequence).where(
            attempts.c.attempt_id == attempt_id, attempts.c.rollout_id == rollout_id
        )
        if conn.execute(exists).first() is None:
            raise NotFoundError(f"attempt {attempt_id!r} of rollout {rollout_id!r} does not exist")
        conditions.append(spans.c.attempt_id == attempt_id)
    if name is not None:
        conditions.append(spans.c.name == name)
    stmt = (
        select(spans.c.data)
        .where(*conditions)
        .order_by(spans.c.attempt_seq, spans.c.sequence_id, spans.c.pk)
        .offset(offset)
        .limit(limit)
    )
    return [Span.model_validate_json(d) for d in conn.execute(stmt).scalars()]


# -------------------------------------------------------------------------- resources
def add_resources(conn: Connection, resources_id: str, create_time: float, data: str) -> int:
    """Insert a version (max + 1) and return its number."""
    if is_postgres(conn):  # versions are max + 1: one publisher at a time
        conn.execute(text("LOCK TABLE agl_resources IN EXCLUSIVE MODE"))
    latest = conn.execute(select(func.max(resources.c.version))).scalar_one()
    version = int(latest or 0) + 1
    conn.execute(
        insert(resources).values(
            resources_id=resources_id, version=version, create_time=create_time, data=data
        )
    )
    return version


# --------------------------------------------------------------------------- watchdog
def sweep_candidates(
    conn: Connection, now: float, default_unresponsive_seconds: float | None
) -> list[tuple[str, str]]:
    """Running attempts past their limits, judged on a snapshot (``sweep_one`` decides again).

    ``default_unresponsive_seconds``: the store's heartbeat limit for rollouts that set none."""
    due = []
    for attempt_id, rollout_id, sequence, start_time, last_heartbeat, config in conn.execute(
        _RUNNING_ATTEMPTS
    ):
        probe_rollout = Rollout(rollout_id=rollout_id, config=parsed_config(config))
        probe_attempt = Attempt(
            rollout_id=rollout_id,
            attempt_id=attempt_id,
            sequence=sequence,
            start_time=start_time,
            last_heartbeat=last_heartbeat,
        )
        verdict = overdue_status(
            probe_rollout, probe_attempt, now, default_unresponsive_seconds=default_unresponsive_seconds
        )
        if verdict is not None:
            due.append((rollout_id, attempt_id))
    return due


def sweep_one(
    conn: Connection, rollout_id: str, attempt_id: str, now: float, default_unresponsive_seconds: float | None
) -> Changes:
    rollout, attempt, _ = lock(conn, rollout_id, attempt_id)
    verdict = overdue_status(  # decided again on the locked rows
        rollout, attempt, now, default_unresponsive_seconds=default_unresponsive_seconds
    )
    if verdict is None:
        return Changes()
    end_attempt(attempt, verdict, f"watchdog: attempt {verdict.value}", now)
    changed = decide_rollout(rollout, attempt, now)
    save(conn, rollout, attempt, changed)
    return Changes([attempt], [rollout] if changed else [])
