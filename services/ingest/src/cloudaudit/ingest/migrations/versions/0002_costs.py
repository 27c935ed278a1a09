"""ingest schema: accounts, ExternalIds, sync runs, Cost Explorer days, cost_data (partitioned
by month), imports, resources from line items, per-day and per-month summaries

Revision ID: 0002_costs
Revises: 0001_ingest
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_costs"
down_revision = "0001_ingest"
branch_labels = None
depends_on = None

S = "ingest"


def _json():
    return postgresql.JSONB(astext_type=sa.Text())


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _amount(name, nullable=True):
    return sa.Column(name, sa.Numeric(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "team_settings",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("tag_keys", _json(), nullable=False),
        _ts("created_at", False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_settings")),
        sa.UniqueConstraint("external_id", name=op.f("uq_team_settings_external_id")),
        schema=S,
    )
    op.create_table(
        "aws_accounts",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("aws_account_id", sa.String(length=12), nullable=False),
        sa.Column("account_name", sa.String(length=200), nullable=False),
        sa.Column("role_arn", sa.String(length=2048), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_step", sa.String(length=30), nullable=True),
        sa.Column("connected_by", sa.Uuid(), nullable=True),
        _ts("connected_at"),
        _ts("last_sync_at"),
        _ts("next_sync_at"),
        sa.Column("last_synced_day", sa.Date(), nullable=True),
        sa.Column("export_bucket", sa.String(length=255), nullable=True),
        sa.Column("export_prefix", sa.String(length=1024), nullable=True),
        _ts("created_at", False),
        _ts("updated_at", False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_aws_accounts")),
        sa.UniqueConstraint("team_id", "aws_account_id", name="uq_aws_accounts_team_aws_account"),
        sa.CheckConstraint(
            "aws_account_id ~ '^[0-9]{12}$'", name=op.f("ck_aws_accounts_twelve_digits")
        ),
        schema=S,
    )
    op.create_index("ix_aws_accounts_next_sync_at", "aws_accounts", ["next_sync_at"], schema=S)

    op.create_table(
        "sync_runs",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _ts("started_at", False),
        _ts("finished_at"),
        sa.Column("ce_requests", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("days", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("details", _json(), nullable=False, server_default="{}"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.aws_accounts.account_id"],
            name=op.f("fk_sync_runs_account_id_aws_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_sync_runs")),
        schema=S,
    )
    op.create_index(
        "ix_sync_runs_account_started", "sync_runs", ["account_id", "started_at"], schema=S
    )
    op.create_index("ix_sync_runs_team_started", "sync_runs", ["team_id", "started_at"], schema=S)

    op.create_table(
        "ce_costs",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("grouping", sa.String(length=160), nullable=False),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("detail", sa.String(length=512), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        _amount("unblended_cost", False),
        _amount("blended_cost", False),
        _amount("amortized_cost", False),
        _amount("net_unblended_cost", False),
        _amount("usage_quantity", False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.aws_accounts.account_id"],
            name=op.f("fk_ce_costs_account_id_aws_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "grouping", "usage_date", "service", "detail", name=op.f("pk_ce_costs")
        ),
        schema=S,
    )

    # Line items: partitioned by month of usage. No foreign key and no primary key on purpose:
    # a per-row key check would halve bulk-load speed; the import writes only ids it resolved.
    op.execute(f"""
        CREATE TABLE {S}.cost_data (
            team_id uuid NOT NULL,
            account_id uuid NOT NULL,
            import_id uuid NOT NULL,
            source varchar(12) NOT NULL,
            billing_period date NOT NULL,
            usage_date date NOT NULL,
            usage_start timestamptz NOT NULL,
            usage_end timestamptz,
            payer_account_id varchar(12),
            aws_account_id varchar(12) NOT NULL,
            line_item_type text,
            product_code text,
            service text,
            usage_type text,
            operation text,
            resource_id text,
            usage_amount numeric,
            unblended_cost numeric NOT NULL,
            blended_cost numeric,
            public_on_demand_cost numeric,
            net_unblended_cost numeric,
            amortized_cost numeric,
            region text,
            instance_type text,
            pricing_unit text,
            usage_unit text,
            currency varchar(8) NOT NULL,
            tag_environment text,
            tag_project text,
            tag_owner text,
            tags jsonb
        ) PARTITION BY RANGE (usage_date)
    """)
    op.execute(f"CREATE TABLE {S}.cost_data_default PARTITION OF {S}.cost_data DEFAULT")
    op.execute(
        f"CREATE INDEX ix_cost_data_account_period ON {S}.cost_data (account_id, billing_period)"
    )
    op.execute(f"CREATE INDEX ix_cost_data_account_date ON {S}.cost_data (account_id, usage_date)")

    op.create_table(
        "imports",
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        _ts("started_at", False),
        _ts("finished_at"),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sources", _json(), nullable=False),
        sa.Column("formats", _json(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_rejected", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_other_providers", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("problems", _json(), nullable=False, server_default="[]"),
        sa.Column("periods", _json(), nullable=False, server_default="[]"),
        sa.PrimaryKeyConstraint("import_id", name=op.f("pk_imports")),
        schema=S,
    )
    op.create_index("ix_imports_team_started", "imports", ["team_id", "started_at"], schema=S)

    op.create_table(
        "resources",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.String(length=1024), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("aws_account_id", sa.String(length=12), nullable=False),
        sa.Column("service", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("instance_type", sa.Text(), nullable=True),
        sa.Column("usage_type", sa.Text(), nullable=True),
        sa.Column("first_seen", sa.Date(), nullable=False),
        sa.Column("last_seen", sa.Date(), nullable=False),
        _amount("last_day_cost"),
        sa.Column("tags", _json(), nullable=True),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.aws_accounts.account_id"],
            name=op.f("fk_resources_account_id_aws_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "resource_id", name=op.f("pk_resources")),
        schema=S,
    )
    op.create_index("ix_resources_team", "resources", ["team_id"], schema=S)

    op.create_table(
        "account_days",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        _amount("total_unblended_cost", False),
        sa.Column("is_estimated", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.aws_accounts.account_id"],
            name=op.f("fk_account_days_account_id_aws_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "usage_date", name=op.f("pk_account_days")),
        schema=S,
    )
    op.create_index(
        "ix_account_days_team_date", "account_days", ["team_id", "usage_date"], schema=S
    )

    op.create_table(
        "daily_cost_summaries",
        sa.Column(
            "summary_id", sa.Uuid(), nullable=False, server_default=sa.text("gen_random_uuid()")
        ),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("aws_account_id", sa.String(length=12), nullable=False),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        _amount("unblended_cost", False),
        _amount("blended_cost"),
        _amount("amortized_cost"),
        _amount("public_on_demand_cost"),
        _amount("net_unblended_cost"),
        _amount("usage_quantity"),
        sa.Column("top_usage_types", _json(), nullable=False, server_default="[]"),
        sa.Column("top_resources", _json(), nullable=False, server_default="[]"),
        sa.Column("source", sa.String(length=20), nullable=False),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.aws_accounts.account_id"],
            name=op.f("fk_daily_cost_summaries_account_id_aws_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("summary_id", name=op.f("pk_daily_cost_summaries")),
        sa.UniqueConstraint(
            "account_id", "usage_date", "service", "region", name="uq_daily_cost_summaries_line"
        ),
        schema=S,
    )
    op.create_index(
        "ix_daily_cost_summaries_team_date",
        "daily_cost_summaries",
        ["team_id", "usage_date"],
        schema=S,
    )

    op.create_table(
        "monthly_cost_summaries",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("aws_account_id", sa.String(length=12), nullable=False),
        _amount("unblended_cost", False),
        _amount("blended_cost"),
        _amount("amortized_cost"),
        _amount("public_on_demand_cost"),
        _amount("net_unblended_cost"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.aws_accounts.account_id"],
            name=op.f("fk_monthly_cost_summaries_account_id_aws_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "month", "service", "region", name=op.f("pk_monthly_cost_summaries")
        ),
        schema=S,
    )
    op.create_index(
        "ix_monthly_cost_summaries_team_month",
        "monthly_cost_summaries",
        ["team_id", "month"],
        schema=S,
    )


def downgrade() -> None:
    for table in (
        "monthly_cost_summaries",
        "daily_cost_summaries",
        "account_days",
        "resources",
        "imports",
        "ce_costs",
        "sync_runs",
    ):
        op.drop_table(table, schema=S)
    op.execute(f"DROP TABLE {S}.cost_data CASCADE")
    op.drop_table("aws_accounts", schema=S)
    op.drop_table("team_settings", schema=S)
