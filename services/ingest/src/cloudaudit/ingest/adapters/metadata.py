"""The ingest schema's SQLAlchemy metadata and outbox; every table module registers on it."""

from cloudaudit.common.db import outbox_table, service_metadata

SCHEMA = "ingest"
metadata = service_metadata(SCHEMA)

outbox = outbox_table(metadata)
