"""bot schema: Slack credential columns hold sealed values, longer than the tokens themselves

Revision ID: 0006_bot_sealed_tokens
Revises: 0005_bot_outbox_parking
Create Date: 2026-12-03

A sealed value (`enc:v1:<key id>:<base64 of nonce + ciphertext + tag>`) is 4/3 of the token
plus about 60 characters: a sealed xoxe refresh token (~150 characters) no longer fits
varchar(200). text, as the installation store's Table objects now declare. Rows written
before keep their plaintext until `cloudaudit keys rotate` seals them (the store reads both).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_bot_sealed_tokens"
down_revision = "0005_bot_outbox_parking"
branch_labels = None
depends_on = None

SCHEMA = "bot"
COLUMNS = {
    "slack_installations": (
        "bot_token",
        "bot_refresh_token",
        "user_token",
        "user_refresh_token",
        "incoming_webhook_url",
    ),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.Text(),
                existing_type=sa.String(length=200),
                existing_nullable=True,
                schema=SCHEMA,
            )


def downgrade() -> None:
    # Fails, changing nothing, while a sealed value is longer than 200 characters: nothing is
    # cut. The previous version cannot read sealed values anyway: after a downgrade, each
    # workspace installs the app again.
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.String(length=200),
                existing_type=sa.Text(),
                existing_nullable=True,
                schema=SCHEMA,
            )
