"""ingest schema: a Cost Explorer metric the answer lacked is NULL ("not available"), and the
summaries say which lines hold Estimated days

Cost Explorer rows stored before this revision hold 0 where the answer lacked a metric: they
cannot be told from real zeros, and are replaced as their days are pulled again (the restated
and Estimated days on every sync, any window with `sync-costs --days N`).

Revision ID: 0006_ingest_ce_not_available
Revises: 0005_ingest_partition_function
Create Date: 2026-12-03
"""

# ruff: noqa: S608 - SQL text is assembled from constants: the schema and column names are ours.

import sqlalchemy as sa
from alembic import op

revision = "0006_ingest_ce_not_available"
down_revision = "0005_ingest_partition_function"
branch_labels = None
depends_on = None

S = "ingest"
CE_OPTIONAL = ("blended_cost", "amortized_cost", "net_unblended_cost", "usage_quantity")
SUMMARIES = ("daily_cost_summaries", "monthly_cost_summaries")


def upgrade() -> None:
    for column in CE_OPTIONAL:
        op.alter_column("ce_costs", column, existing_type=sa.Numeric(), nullable=True, schema=S)
    for table in SUMMARIES:
        op.add_column(
            table,
            sa.Column("is_estimated", sa.Boolean(), nullable=False, server_default=sa.false()),
            schema=S,
        )
    # Daily lines of days still Estimated, as account_days knows them.
    op.execute(f"""
        UPDATE {S}.daily_cost_summaries s SET is_estimated = true
        FROM {S}.account_days a
        WHERE a.account_id = s.account_id AND a.usage_date = s.usage_date AND a.is_estimated
    """)
    op.execute(f"""
        UPDATE {S}.monthly_cost_summaries m SET is_estimated = true
        WHERE EXISTS (SELECT 1 FROM {S}.daily_cost_summaries s
                      WHERE s.account_id = m.account_id AND s.service = m.service
                        AND s.region = m.region AND s.is_estimated
                        AND date_trunc('month', s.usage_date)::date = m.month)
    """)


def downgrade() -> None:
    for table in SUMMARIES:
        op.drop_column(table, "is_estimated", schema=S)
    for column in CE_OPTIONAL:
        op.execute(f"UPDATE {S}.ce_costs SET {column} = 0 WHERE {column} IS NULL")
        op.alter_column("ce_costs", column, existing_type=sa.Numeric(), nullable=False, schema=S)
