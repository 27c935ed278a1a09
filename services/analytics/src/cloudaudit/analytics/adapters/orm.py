"""Tables of the analytics schema. Created only by the Alembic migrations beside them."""

from cloudaudit.common.db import outbox_table, service_metadata

SCHEMA = "analytics"
metadata = service_metadata(SCHEMA)

outbox = outbox_table(metadata)

# Capability tables register themselves on `metadata` (Alembic's env sees them all).
from cloudaudit.analytics.adapters import anomaly_orm as _anomaly_orm  # noqa: E402, F401
