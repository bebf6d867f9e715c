"""The tables, as the latest migration leaves them (migrations/ builds them; this describes them).

Design for the hot path of a training run:

* JSON payloads (input, config, metadata, span bodies, resources) are stored as text encoded by
  orjson: the store never queries inside them, and text is the cheapest thing to write and read
  on both SQLite and PostgreSQL.
* A queued rollout has a ``queue_seq``; a partial index on it serves dequeue (lowest first).
  Fresh rollouts count up from 1; a requeued one gets ``pk - 2**62``: ahead of every fresh one,
  retries among themselves in enqueue order.
* ``rollouts.num_attempts`` equals the latest attempt's ``sequence``, so "is this attempt the
  latest?" needs no extra query.
* ``attempts.span_seq`` is the per-attempt span counter: a batch of spans reserves its ids with
  one ``UPDATE ... RETURNING``.
* Spans carry their attempt's ``sequence`` so a rollout's spans come out of one index in order.
* ``(rollout_id, attempt_id, span_id)`` is unique: a re-sent span is acknowledged, not stored twice.

Tables are prefixed ``agl_`` so they can share a database with an application's own.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

#: PostgreSQL sequence giving queue positions (SQLite computes max + 1 inside its write lock)
QUEUE_SEQUENCE = Sequence("agl_rollout_queue_seq", metadata=metadata)

_pk = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY is the rowid

rollouts = Table(
    "agl_rollouts",
    metadata,
    Column("pk", _pk, primary_key=True, autoincrement=True),
    Column("rollout_id", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("mode", String(16)),
    Column("resources_id", String(64)),
    Column("input", Text, nullable=False),
    Column("config", Text, nullable=False),
    Column("meta", Text, nullable=False),
    Column("enqueue_time", Float, nullable=False),
    Column("start_time", Float),
    Column("end_time", Float),
    Column("num_attempts", Integer, nullable=False, server_default="0"),
    Column("queue_seq", BigInteger),
    Index(
        "ix_agl_rollouts_queue",
        "queue_seq",
        sqlite_where=text("queue_seq IS NOT NULL"),
        postgresql_where=text("queue_seq IS NOT NULL"),
    ),
    Index("ix_agl_rollouts_status", "status"),
)

attempts = Table(
    "agl_attempts",
    metadata,
    Column("attempt_id", String(64), primary_key=True),
    Column("rollout_id", String(64), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("worker_id", String(256)),
    Column("status", String(16), nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float),
    Column("last_heartbeat", Float, nullable=False),
    Column("error", Text),
    Column("meta", Text, nullable=False),
    Column("span_seq", Integer, nullable=False, server_default="0"),
    UniqueConstraint("rollout_id", "sequence", name="uq_agl_attempts_rollout_sequence"),
    Index(
        "ix_agl_attempts_running",
        "rollout_id",
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
)

spans = Table(
    "agl_spans",
    metadata,
    Column("pk", _pk, primary_key=True, autoincrement=True),
    Column("rollout_id", String(64), nullable=False),
    Column("attempt_id", String(64), nullable=False),
    Column("attempt_seq", Integer, nullable=False),
    Column("sequence_id", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("span_id", String(64)),  # NULL only on rows older than revision 0003 whose body had none
    Index("ix_agl_spans_order", "rollout_id", "attempt_seq", "sequence_id"),
    # idempotent spans: a re-sent span is not stored twice (INSERT ... ON CONFLICT DO NOTHING)
    Index("uq_agl_spans_span_id", "rollout_id", "attempt_id", "span_id", unique=True),
)

resources = Table(
    "agl_resources",
    metadata,
    Column("resources_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False, unique=True),
    Column("create_time", Float, nullable=False),
    Column("data", Text, nullable=False),
)

workers = Table(
    "agl_workers",
    metadata,
    Column("worker_id", String(256), primary_key=True),
    Column("data", Text, nullable=False),
)

ALL_TABLES = (rollouts, attempts, spans, resources, workers)
