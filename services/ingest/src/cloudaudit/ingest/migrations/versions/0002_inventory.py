"""ingest schema: resource inventory (latest facts per resource) and inventory runs

Revision ID: 0002_inventory
Revises: 0001_ingest
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_inventory"
down_revision = "0001_ingest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_resources",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("aws_account_id", sa.String(length=12), nullable=False),
        sa.Column("resource_type", sa.String(length=50), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "resource_id", name=op.f("pk_inventory_resources")),
        schema="ingest",
    )
    op.create_index(
        "ix_inventory_resources_team_id", "inventory_resources", ["team_id"], schema="ingest"
    )
    op.create_table(
        "inventory_runs",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("problems", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_inventory_runs")),
        schema="ingest",
    )
    op.create_index(
        op.f("ix_ingest_inventory_runs_account_id"),
        "inventory_runs",
        ["account_id"],
        schema="ingest",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_ingest_inventory_runs_account_id"), table_name="inventory_runs", schema="ingest"
    )
    op.drop_table("inventory_runs", schema="ingest")
    op.drop_index(
        "ix_inventory_resources_team_id", table_name="inventory_resources", schema="ingest"
    )
    op.drop_table("inventory_resources", schema="ingest")
