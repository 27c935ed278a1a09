"""ingest schema: outbox rows that keep failing are parked with their error, not retried forever

Revision ID: 0004_ingest_outbox_parking
Revises: 0003_import_heartbeat
Create Date: 2026-12-02
"""

from alembic import op
from cloudaudit.common.db import add_outbox_parking, drop_outbox_parking

revision = "0004_ingest_outbox_parking"
down_revision = "0003_import_heartbeat"
branch_labels = None
depends_on = None

SCHEMA = "ingest"


def upgrade() -> None:
    add_outbox_parking(op, SCHEMA)


def downgrade() -> None:
    drop_outbox_parking(op, SCHEMA)
