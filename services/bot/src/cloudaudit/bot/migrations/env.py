"""Alembic environment of the bot schema."""

from cloudaudit.bot.adapters.orm import SCHEMA, metadata
from cloudaudit.common.migrations import run_env

run_env(metadata, SCHEMA)
