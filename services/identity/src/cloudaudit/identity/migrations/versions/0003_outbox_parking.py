"""identity schema: outbox rows that keep failing are parked with their error, not retried forever

Revision ID: 0003_identity_outbox_parking
Revises: 0002_identity_no_db_clock
Create Date: 2026-12-02
"""

from alembic import op
from cloudaudit.common.db import add_outbox_parking, drop_outbox_parking

revision = "0003_identity_outbox_parking"
down_revision = "0002_identity_no_db_clock"
branch_labels = None
depends_on = None

SCHEMA = "identity"


def upgrade() -> None:
    add_outbox_parking(op, SCHEMA)


def downgrade() -> None:
    drop_outbox_parking(op, SCHEMA)
