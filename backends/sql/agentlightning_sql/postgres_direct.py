"""PostgreSQL's hot statements, sent straight to asyncpg.

A runner's rollout costs the store three calls: dequeue, one batch of spans, finish. On
PostgreSQL each is one statement in autocommit (two for spans). Run through SQLAlchemy's
execution layer, such a statement cost about 0.8 ms of server CPU on the 2-core machine. That
layer is ``run_sync`` and its greenlet, the execution context and result wrapping. Sent with
asyncpg's ``fetch`` on the same pooled connection, it cost about 0.35 ms. With server, clients
and database sharing two cores, that difference decided whether the store reached its
throughput target.

What stays the same:
- the statements are built with SQLAlchemy in ``transactions.py`` and compiled once for asyncpg
  here;
- the connection comes from the store's SQLAlchemy pool, so ``DB_POOL_*``, pool statistics and
  pre-ping still apply;
- each function returns ``None`` where the full rules are needed, as before, and the store then
  runs the full transaction through SQLAlchemy.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql.expression import Executable

from agentlightning_core.types import Attempt, AttemptStatus, Rollout, Span, new_id

from . import transactions as tx
from .rows import attempt_from_row, rollout_from_row
from .schema import spans


class DirectStatement:
    """A SQLAlchemy statement compiled for asyncpg: ``$n`` placeholders and their parameter order."""

    def __init__(self, statement: Executable) -> None:
        self.compiled = statement.compile(dialect=asyncpg_dialect())  # type: ignore[attr-defined]
        self.sql = str(self.compiled)
        self.names: list[str] = list(self.compiled.positiontup or [])

    def args(self, params: dict[str, Any]) -> list[Any]:
        """Positional values; literals the statement holds (e.g. a status) are filled in."""
        values = self.compiled.construct_params(params)
        return [values[name] for name in self.names]


TAKE_AND_START = DirectStatement(tx._TAKE_AND_START_PG)
RESERVE_SPAN_IDS = DirectStatement(tx._RESERVE_SPAN_IDS)
FINISH_SUCCEEDED = DirectStatement(tx._FINISH_SUCCEEDED_PG)
HEARTBEAT = DirectStatement(tx._HEARTBEAT)
#: a batch of spans in one INSERT (one row per element of the arrays) instead of executemany
INSERT_SPANS_SQL = (
    f"INSERT INTO {spans.name} (rollout_id, attempt_id, attempt_seq, sequence_id, name, data) "
    "SELECT $1, $2, $3, s.sequence_id, s.name, s.data "
    "FROM unnest($4::integer[], $5::text[], $6::text[]) AS s(sequence_id, name, data)"
)


class Fetcher(Protocol):
    """What these functions need of ``PostgresPools``: one statement on a pooled connection."""

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[Any]: ...


async def _fetch(pools: Fetcher, statement: DirectStatement, params: dict[str, Any]) -> list[Any]:
    return await pools.fetch(statement.sql, statement.args(params))


async def dequeue(pools: Fetcher, worker_id: str | None) -> tuple[Rollout, Attempt] | None:
    """Take the oldest queued rollout and start its attempt: one statement (see ``_take_and_start``)."""
    now = time.time()
    attempt_id = new_id("at")
    rows = await _fetch(pools, TAKE_AND_START, {"now": now, "attempt_id": attempt_id, "worker_id": worker_id})
    if not rows:
        return None
    rollout = rollout_from_row(rows[0])
    attempt = Attempt(
        rollout_id=rollout.rollout_id,
        attempt_id=attempt_id,
        sequence=rollout.num_attempts,
        worker_id=worker_id,
        start_time=now,
        last_heartbeat=now,
    )
    return rollout, attempt


async def add_spans_of_running_attempt(pools: Fetcher, batch: list[Span]) -> list[Span] | None:
    """Reserve the batch's sequence ids with the heartbeat, then insert it: two statements, no
    transaction. ``None`` when the attempt is unknown or unresponsive.

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
    rows = await _fetch(pools, RESERVE_SPAN_IDS, params)
    if not rows:
        return None
    attempt_seq, last = int(rows[0][0]), int(rows[0][1]) - len(batch)
    stored = [s.model_copy(update={"sequence_id": last + i}) for i, s in enumerate(batch, 1)]
    await pools.fetch(
        INSERT_SPANS_SQL,
        [
            first.rollout_id,
            first.attempt_id,
            attempt_seq,
            [s.sequence_id for s in stored],
            [s.name for s in stored],
            [s.model_dump_json() for s in stored],
        ],
    )
    return stored


async def finish_succeeded(
    pools: Fetcher, rollout_id: str, attempt_id: str
) -> tuple[Attempt, tx.Changes] | None:
    """The common end of a rollout (see ``transactions._finish_succeeded_sql``); ``None`` when the
    full rules apply."""
    params = {
        "attempt_id": attempt_id,
        "rollout_id": rollout_id,
        "now": time.time(),
        "running": AttemptStatus.RUNNING.value,
        "succeeded": AttemptStatus.SUCCEEDED.value,
    }
    rows = await _fetch(pools, FINISH_SUCCEEDED, params)
    if not rows:
        return None
    attempt, rollout = attempt_from_row(rows[0], "a_"), rollout_from_row(rows[0], "r_")
    return attempt, tx.Changes(attempts=[attempt], rollouts=[rollout])


async def heartbeat_running(pools: Fetcher, rollout_id: str, attempt_id: str) -> Attempt | None:
    """The common heartbeat; ``None`` when the attempt is unknown or unresponsive."""
    params = {"b_attempt_id": attempt_id, "b_rollout_id": rollout_id, "now": time.time()}
    rows = await _fetch(pools, HEARTBEAT, params)
    return attempt_from_row(rows[0]) if rows else None
