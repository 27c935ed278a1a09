"""identity schema: proven email (users.email_verified_at) and one-time emailed tokens

Revision ID: 0004_identity_proven_email
Revises: 0003_identity_outbox_parking
Create Date: 2026-12-03

Users who already have a password count as verified, from the moment they signed up: they
signed up before verification existed, and locking every existing customer out of log-in
until they find a mail they were never sent would be worse than trusting the address they
have been logging in with. Users known only from Slack (no password) stay unverified: a
Slack profile's email is not proof.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_identity_proven_email"
down_revision = "0003_identity_outbox_parking"
branch_labels = None
depends_on = None

SCHEMA = "identity"


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("email_verified_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.execute(
        "UPDATE identity.users SET email_verified_at = created_at WHERE password_hash IS NOT NULL"
    )
    op.create_table(
        "email_tokens",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('verify_email', 'reset_password')",
            name=op.f("ck_email_tokens_purpose_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.user_id"],
            name=op.f("fk_email_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_email_tokens")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_email_tokens_user_purpose",
        "email_tokens",
        ["user_id", "purpose", "created_at"],
        schema=SCHEMA,
    )
    # log out everywhere, and ending other sessions on a password change, go by user
    op.create_index("ix_sessions_user", "sessions", ["user_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_sessions_user", table_name="sessions", schema=SCHEMA)
    op.drop_index("ix_email_tokens_user_purpose", table_name="email_tokens", schema=SCHEMA)
    op.drop_table("email_tokens", schema=SCHEMA)
    op.drop_column("users", "email_verified_at", schema=SCHEMA)
