"""ingest schema: an import's heartbeat (last sign of life of the process running it), so an
import whose process died is shown as interrupted instead of running forever

Revision ID: 0003_import_heartbeat
Revises: 0002_costs
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_import_heartbeat"
down_revision = "0002_costs"
branch_labels = None
depends_on = None

S = "ingest"


def upgrade() -> None:
    op.add_column(
        "imports", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True), schema=S
    )
    # Running imports are few; finding them must not scan every import ever made.
    op.create_index(
        "ix_imports_running",
        "imports",
        ["team_id"],
        schema=S,
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("ix_imports_running", table_name="imports", schema=S)
    op.drop_column("imports", "heartbeat_at", schema=S)
