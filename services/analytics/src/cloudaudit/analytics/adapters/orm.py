"""Tables of the analytics schema. Created only by the Alembic migrations beside them.

Importing this module registers every table on `metadata` (Alembic's env and the schema test
compare against it); the table modules import `metadata.py`, never this one, so there is no
import circle."""

from cloudaudit.analytics.adapters import anomaly_orm, recommendation_orm
from cloudaudit.analytics.adapters.metadata import SCHEMA, metadata, outbox

TABLE_MODULES = (anomaly_orm, recommendation_orm)

__all__ = ["SCHEMA", "TABLE_MODULES", "metadata", "outbox"]
