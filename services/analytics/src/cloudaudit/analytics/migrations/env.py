"""Alembic environment of the analytics schema."""

from cloudaudit.common.migrations import run_env
from cloudaudit.analytics.adapters.orm import SCHEMA, metadata

run_env(metadata, SCHEMA)
