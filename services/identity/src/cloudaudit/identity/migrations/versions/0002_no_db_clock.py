"""identity schema: business times come from the application's clock, not the database's now()

Revision ID: 0002_identity_no_db_clock
Revises: 0001_identity
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_identity_no_db_clock"
down_revision = "0001_identity"
branch_labels = None
depends_on = None

# (table, column): every one is a business time the application now writes from its clock.
COLUMNS = (
    ("users", "created_at"),
    ("teams", "created_at"),
    ("team_members", "joined_at"),
    ("slack_workspaces", "linked_at"),
    ("slack_users", "linked_at"),
    ("audit_logs", "created_at"),
    ("sessions", "created_at"),
    ("login_failures", "failed_at"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        op.alter_column(table, column, server_default=None, schema="identity")


def downgrade() -> None:
    for table, column in COLUMNS:
        op.alter_column(table, column, server_default=sa.text("now()"), schema="identity")
