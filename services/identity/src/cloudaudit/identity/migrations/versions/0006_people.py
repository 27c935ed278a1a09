"""identity schema: people are linked by proof, join by invitation, and owners are named

- teams.join_policy ('invite' | 'workspace') and teams.guest_policy ('refuse' | 'viewer');
- slack_users.email: the Slack profile's email as contact information (never an identity);
- invitations: a place in a team kept until the person proves who they are;
- team_removals: removed people do not re-enrol until invited again;
- one_time_codes (link and claim codes, SHA-256 digests only) and code_failures (wrong codes
  typed, for the hourly limit).

Existing teams keep their members and owners; they start with the 'invite' policy, so from now
on only invited people join them from Slack.

Revision ID: 0006_identity_people
Revises: 0005_identity_audit_retention
Create Date: 2026-12-05
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_identity_people"
down_revision = "0005_identity_audit_retention"
branch_labels = None
depends_on = None

SCHEMA = "identity"
ROLES_SQL = "role IN ('owner', 'admin', 'member', 'viewer')"
TZ = sa.DateTime(timezone=True)


def _team_fk(table: str, nullable: bool = False) -> list[Any]:
    return [
        sa.Column("team_id", sa.Uuid(), nullable=nullable),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["identity.teams.team_id"],
            name=op.f(f"fk_{table}_team_id_teams"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.add_column(
        "teams",
        sa.Column("join_policy", sa.String(20), nullable=False, server_default="invite"),
        schema=SCHEMA,
    )
    op.add_column(
        "teams",
        sa.Column("guest_policy", sa.String(20), nullable=False, server_default="refuse"),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_teams_join_policy_known"),
        "teams",
        "join_policy IN ('invite', 'workspace')",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_teams_guest_policy_known"),
        "teams",
        "guest_policy IN ('refuse', 'viewer')",
        schema=SCHEMA,
    )
    op.add_column("slack_users", sa.Column("email", sa.String(320)), schema=SCHEMA)
    op.create_index("ix_slack_users_user", "slack_users", ["user_id"], schema=SCHEMA)
    op.create_table(
        "invitations",
        sa.Column("invitation_id", sa.Uuid(), nullable=False),
        *_team_fk("invitations"),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("slack_user_id", sa.String(32), nullable=True),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("accepted_at", TZ, nullable=True),
        sa.Column("accepted_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(ROLES_SQL, name=op.f("ck_invitations_role_known")),
        sa.CheckConstraint(
            "email IS NOT NULL OR slack_user_id IS NOT NULL",
            name=op.f("ck_invitations_names_someone"),
        ),
        sa.PrimaryKeyConstraint("invitation_id", name=op.f("pk_invitations")),
        schema=SCHEMA,
    )
    op.create_index("ix_invitations_team", "invitations", ["team_id", "created_at"], schema=SCHEMA)
    op.create_table(
        "team_removals",
        sa.Column("removal_id", sa.BigInteger(), autoincrement=True, nullable=False),
        *_team_fk("team_removals"),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("slack_user_id", sa.String(32), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("removed_by", sa.Uuid(), nullable=True),
        sa.Column("removed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("removal_id", name=op.f("pk_team_removals")),
        schema=SCHEMA,
    )
    op.create_index("ix_team_removals_team", "team_removals", ["team_id"], schema=SCHEMA)
    op.create_table(
        "one_time_codes",
        sa.Column("code_digest", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("slack_team_id", sa.String(32), nullable=True),
        sa.Column("slack_user_id", sa.String(32), nullable=True),
        *_team_fk("one_time_codes", nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.CheckConstraint(
            "purpose IN ('link_slack', 'link_web', 'claim')",
            name=op.f("ck_one_time_codes_purpose_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.user_id"],
            name=op.f("fk_one_time_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_digest", name=op.f("pk_one_time_codes")),
        schema=SCHEMA,
    )
    op.create_table(
        "code_failures",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("failed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_failures")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_code_failures_subject", "code_failures", ["subject", "failed_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_code_failures_subject", table_name="code_failures", schema=SCHEMA)
    op.drop_table("code_failures", schema=SCHEMA)
    op.drop_table("one_time_codes", schema=SCHEMA)
    op.drop_index("ix_team_removals_team", table_name="team_removals", schema=SCHEMA)
    op.drop_table("team_removals", schema=SCHEMA)
    op.drop_index("ix_invitations_team", table_name="invitations", schema=SCHEMA)
    op.drop_table("invitations", schema=SCHEMA)
    op.drop_index("ix_slack_users_user", table_name="slack_users", schema=SCHEMA)
    op.drop_column("slack_users", "email", schema=SCHEMA)
    op.drop_constraint(op.f("ck_teams_guest_policy_known"), "teams", schema=SCHEMA)
    op.drop_constraint(op.f("ck_teams_join_policy_known"), "teams", schema=SCHEMA)
    op.drop_column("teams", "guest_policy", schema=SCHEMA)
    op.drop_column("teams", "join_policy", schema=SCHEMA)
