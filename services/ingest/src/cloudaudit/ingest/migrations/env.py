"""Alembic environment of the ingest schema."""

from cloudaudit.common.migrations import run_env
from cloudaudit.ingest.adapters.orm import SCHEMA, metadata

run_env(metadata, SCHEMA)
