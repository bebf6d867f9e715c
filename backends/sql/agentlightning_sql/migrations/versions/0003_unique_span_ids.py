"""Idempotent spans: ``agl_spans.span_id`` and a unique index on (rollout, attempt, span id).

A runner that re-sends a batch (a lost answer, a retried request) must not store its spans
twice: training on a duplicated LLM call biases the gradient. The span id moves out of the JSON
body into its own column, and the unique index makes a re-sent span a no-op
(``INSERT ... ON CONFLICT DO NOTHING``).

Existing rows get their span id from the JSON body. Duplicates stored before this revision (the
bug it fixes) are removed first, keeping the first copy of each span (lowest ``pk``), or the
index could not be built.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agl_spans", sa.Column("span_id", sa.String(64)))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE agl_spans SET span_id = LEFT((data::json)->>'span_id', 64)")
    else:
        op.execute("UPDATE agl_spans SET span_id = substr(json_extract(data, '$.span_id'), 1, 64)")
    op.execute(
        "DELETE FROM agl_spans WHERE span_id IS NOT NULL AND pk NOT IN ("
        "SELECT MIN(pk) FROM agl_spans WHERE span_id IS NOT NULL GROUP BY rollout_id, attempt_id, span_id)"
    )
    op.create_index("uq_agl_spans_span_id", "agl_spans", ["rollout_id", "attempt_id", "span_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_agl_spans_span_id", table_name="agl_spans")
    with op.batch_alter_table("agl_spans") as batch:
        batch.drop_column("span_id")
