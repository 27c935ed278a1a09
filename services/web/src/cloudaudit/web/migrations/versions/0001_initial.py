"""The web schema starts empty: pages are served from the other services' answers.

Revision ID: web0001
Revises:
"""

revision = "web0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
