"""Alembic environment of the analytics schema."""

from cloudaudit.analytics.adapters.orm import SCHEMA, metadata
from cloudaudit.common.migrations import run_env

run_env(metadata, SCHEMA)
