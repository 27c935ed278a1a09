"""ingest schema: the event outbox

Revision ID: 0001_ingest
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_ingest"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_outbox")),
        schema="ingest",
    )
    op.create_index(
        op.f("ix_ingest_outbox_published_at"), "outbox", ["published_at"], schema="ingest"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ingest_outbox_published_at"), table_name="outbox", schema="ingest")
    op.drop_table("outbox", schema="ingest")
