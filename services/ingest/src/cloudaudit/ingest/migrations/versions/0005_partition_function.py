"""ingest schema: monthly partitions made by a function of the schema's owner

The ingest service connects as its own role, which may read and write rows but not change the
schema; attaching a partition needs the table's owner. This function, owned by the migrations
role (SECURITY DEFINER, fixed search_path, the month as its only input), is the one piece of
DDL the service may cause.

Revision ID: 0005_ingest_partition_function
Revises: 0004_ingest_outbox_parking
Create Date: 2026-12-03
"""

from alembic import op

revision = "0005_ingest_partition_function"
down_revision = "0004_ingest_outbox_parking"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION ingest.ensure_cost_partition(month date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    first_day date := date_trunc('month', month)::date;
    next_day date := (date_trunc('month', month) + interval '1 month')::date;
    name text := 'cost_data_' || to_char(date_trunc('month', month), 'YYYY_MM');
BEGIN
    -- Serialise partition creation between concurrent imports (held until commit).
    PERFORM pg_advisory_xact_lock(hashtext('ingest-cost-data-partitions'));
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'ingest' AND c.relname = name) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE ingest.%I (LIKE ingest.cost_data INCLUDING DEFAULTS)', name);
    -- Rows that reached the DEFAULT partition for this month move to their own.
    EXECUTE format(
        'WITH moved AS (DELETE FROM ingest.cost_data_default '
        'WHERE usage_date >= $1 AND usage_date < $2 RETURNING *) '
        'INSERT INTO ingest.%I SELECT * FROM moved', name
    ) USING first_day, next_day;
    EXECUTE format(
        'ALTER TABLE ingest.cost_data ATTACH PARTITION ingest.%I FOR VALUES FROM (%L) TO (%L)',
        name, first_day, next_day
    );
    RETURN true;
END
$fn$
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION ingest.ensure_cost_partition(date) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS ingest.ensure_cost_partition(date)")
