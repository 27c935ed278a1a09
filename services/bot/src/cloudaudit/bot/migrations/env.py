"""Alembic environment of the bot schema."""

from cloudaudit.common.migrations import run_env
from cloudaudit.bot.adapters.orm import SCHEMA, metadata

run_env(metadata, SCHEMA)
