"""Alembic environment of the identity schema."""

from cloudaudit.common.migrations import run_env
from cloudaudit.identity.adapters.orm import SCHEMA, metadata

run_env(metadata, SCHEMA)
