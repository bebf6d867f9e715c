"""Per-attempt span counter: ``agl_attempts.span_seq``, backfilled from the spans already stored.

Revision 0001 numbered a new span with ``MAX(sequence_id) + 1`` over the attempt's spans, one
query per span. A counter on the attempt row lets a whole batch reserve its ids with a single
``UPDATE ... RETURNING`` (and serialises concurrent writers of one attempt on that row's lock).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agl_attempts", sa.Column("span_seq", sa.Integer, nullable=False, server_default="0"))
    op.execute(
        "UPDATE agl_attempts SET span_seq = COALESCE("
        "(SELECT MAX(s.sequence_id) FROM agl_spans s WHERE s.attempt_id = agl_attempts.attempt_id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("agl_attempts") as batch:
        batch.drop_column("span_seq")
