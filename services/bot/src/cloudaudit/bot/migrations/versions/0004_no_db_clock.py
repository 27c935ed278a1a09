"""bot schema: business times come from the application's clock, not the database's now()

Revision ID: 0004_bot_no_db_clock
Revises: 0003_bot_posting_intent
Create Date: 2026-12-02

slack_installations.installed_at and slack_bots.installed_at keep their default: those tables
are slack_sdk's own shape, and its store always writes installed_at itself.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_bot_no_db_clock"
down_revision = "0003_bot_posting_intent"
branch_labels = None
depends_on = None

# (table, column): every one is a business time the application now writes from its clock.
COLUMNS = (
    ("teams", "created_at"),
    ("teams", "updated_at"),
    ("posted_messages", "created_at"),
    ("slack_event_receipts", "received_at"),
    ("pending_connections", "requested_at"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        op.alter_column(table, column, server_default=None, schema="bot")


def downgrade() -> None:
    for table, column in COLUMNS:
        op.alter_column(table, column, server_default=sa.text("now()"), schema="bot")
