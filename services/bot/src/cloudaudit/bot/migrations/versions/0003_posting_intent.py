"""bot schema: the posting intent of a message ref (committed before Slack is called)

Revision ID: 0003_bot_posting_intent
Revises: 0002_bot_slack
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_bot_posting_intent"
down_revision = "0002_bot_slack"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "posted_messages",
        sa.Column("posting_since", sa.DateTime(timezone=True), nullable=True),
        schema="bot",
    )
    op.add_column(
        "posted_messages",
        sa.Column("intents", sa.Integer(), server_default=sa.text("0"), nullable=False),
        schema="bot",
    )


def downgrade() -> None:
    op.drop_column("posted_messages", "intents", schema="bot")
    op.drop_column("posted_messages", "posting_since", schema="bot")
