"""identity schema: the audit log's retention is the only way its rows leave

The identity service's role may only read and append to audit_logs (no UPDATE, DELETE or
TRUNCATE: see cloudaudit.common.db_roles). The schema's owner may delete, but the trigger lets
a DELETE through only for rows older than the cut-off the retention job names for its own
transaction (`cloudaudit audit-prune`); every other change is still refused.

Revision ID: 0005_identity_audit_retention
Revises: 0004_identity_proven_email
Create Date: 2026-12-03
"""

from alembic import op

revision = "0005_identity_audit_retention"
down_revision = "0004_identity_proven_email"
branch_labels = None
depends_on = None

RETENTION = """
CREATE OR REPLACE FUNCTION identity.audit_logs_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := nullif(
        current_setting('cloudaudit.audit_retention_before', true), ''
    )::timestamptz;
BEGIN
    IF TG_OP = 'DELETE' AND cutoff IS NOT NULL AND OLD.created_at < cutoff THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
"""

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION identity.audit_logs_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
"""


def upgrade() -> None:
    op.execute(RETENTION)


def downgrade() -> None:
    op.execute(APPEND_ONLY)
