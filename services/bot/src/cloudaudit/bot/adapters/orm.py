"""Tables of the bot schema. Created only by the Alembic migrations beside them."""

from cloudaudit.common.db import outbox_table, service_metadata

SCHEMA = "bot"
metadata = service_metadata(SCHEMA)

outbox = outbox_table(metadata)
