"""ingest schema: accounts and cost rows of every provider a FOCUS export names

An account is (team, provider, the provider's account id); that id is opaque text (AWS's 12
digits, Azure's GUIDs, OCI's dotted OCIDs, anonymised 13-digit ids), so the id columns widen
from 12 characters. Cost rows keep their provider, FOCUS ChargeCategory and ChargeFrequency.
Existing rows are AWS. Widening a varchar rewrites nothing.

Revision ID: 0007_ingest_providers
Revises: 0006_ingest_ce_not_available
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_ingest_providers"
down_revision = "0006_ingest_ce_not_available"
branch_labels = None
depends_on = None

S = "ingest"
ID_COLUMNS = {
    "aws_accounts": ("aws_account_id",),
    "cost_data": ("payer_account_id", "aws_account_id"),
    "resources": ("aws_account_id",),
    "daily_cost_summaries": ("aws_account_id",),
    "monthly_cost_summaries": ("aws_account_id",),
}


def upgrade() -> None:
    for table, columns in ID_COLUMNS.items():
        for column in columns:
            op.alter_column(
                table, column, type_=sa.String(255), existing_type=sa.String(12), schema=S
            )
    op.add_column(
        "aws_accounts",
        sa.Column("provider", sa.String(32), nullable=False, server_default="aws"),
        schema=S,
    )
    op.drop_constraint("uq_aws_accounts_team_aws_account", "aws_accounts", schema=S)
    # Ids are opaque here: CUR's (where AWS writes them) and role ARNs are checked as 12 digits
    # on the way in, but an anonymised FOCUS export writes AWS accounts as 13 digits.
    op.drop_constraint("ck_aws_accounts_twelve_digits", "aws_accounts", schema=S)
    op.create_unique_constraint(
        "uq_aws_accounts_team_provider_account",
        "aws_accounts",
        ["team_id", "provider", "aws_account_id"],
        schema=S,
    )
    op.add_column(
        "cost_data",
        sa.Column("provider", sa.String(32), nullable=False, server_default="aws"),
        schema=S,
    )
    op.add_column("cost_data", sa.Column("charge_category", sa.String(32)), schema=S)
    op.add_column("cost_data", sa.Column("charge_frequency", sa.String(32)), schema=S)


def downgrade() -> None:
    op.drop_column("cost_data", "charge_frequency", schema=S)
    op.drop_column("cost_data", "charge_category", schema=S)
    op.drop_column("cost_data", "provider", schema=S)
    op.drop_constraint("uq_aws_accounts_team_provider_account", "aws_accounts", schema=S)
    # Accounts 0006 cannot hold (other providers, anonymised ids) go, with their rows (the
    # other tables cascade).
    gone = "SELECT account_id FROM ingest.aws_accounts WHERE provider <> 'aws' OR aws_account_id !~ '^[0-9]{12}$'"
    op.execute(f"DELETE FROM ingest.cost_data WHERE account_id IN ({gone})")  # noqa: S608
    op.execute(f"DELETE FROM ingest.aws_accounts WHERE account_id IN ({gone})")  # noqa: S608
    op.create_unique_constraint(
        "uq_aws_accounts_team_aws_account", "aws_accounts", ["team_id", "aws_account_id"], schema=S
    )
    op.drop_column("aws_accounts", "provider", schema=S)
    op.create_check_constraint(
        "ck_aws_accounts_twelve_digits", "aws_accounts", "aws_account_id ~ '^[0-9]{12}$'", schema=S
    )
