"""Initial schema: rollouts (with queue positions), attempts, spans, resources, workers.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_pk = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE IF NOT EXISTS agl_rollout_queue_seq")
    op.create_table(
        "agl_rollouts",
        sa.Column("pk", _pk, primary_key=True, autoincrement=True),
        sa.Column("rollout_id", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16)),
        sa.Column("resources_id", sa.String(64)),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("enqueue_time", sa.Float, nullable=False),
        sa.Column("start_time", sa.Float),
        sa.Column("end_time", sa.Float),
        sa.Column("num_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("queue_seq", sa.BigInteger),
    )
    op.create_index(
        "ix_agl_rollouts_queue",
        "agl_rollouts",
        ["queue_seq"],
        sqlite_where=sa.text("queue_seq IS NOT NULL"),
        postgresql_where=sa.text("queue_seq IS NOT NULL"),
    )
    op.create_index("ix_agl_rollouts_status", "agl_rollouts", ["status"])
    op.create_table(
        "agl_attempts",
        sa.Column("attempt_id", sa.String(64), primary_key=True),
        sa.Column("rollout_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("worker_id", sa.String(256)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", sa.Float, nullable=False),
        sa.Column("end_time", sa.Float),
        sa.Column("last_heartbeat", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("meta", sa.Text, nullable=False),
        sa.UniqueConstraint("rollout_id", "sequence", name="uq_agl_attempts_rollout_sequence"),
    )
    op.create_index(
        "ix_agl_attempts_running",
        "agl_attempts",
        ["rollout_id"],
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "agl_spans",
        sa.Column("pk", _pk, primary_key=True, autoincrement=True),
        sa.Column("rollout_id", sa.String(64), nullable=False),
        sa.Column("attempt_id", sa.String(64), nullable=False),
        sa.Column("attempt_seq", sa.Integer, nullable=False),
        sa.Column("sequence_id", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_agl_spans_order", "agl_spans", ["rollout_id", "attempt_seq", "sequence_id"])
    op.create_table(
        "agl_resources",
        sa.Column("resources_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, unique=True),
        sa.Column("create_time", sa.Float, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "agl_workers",
        sa.Column("worker_id", sa.String(256), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("agl_workers", "agl_resources", "agl_spans", "agl_attempts", "agl_rollouts"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS agl_rollout_queue_seq")
