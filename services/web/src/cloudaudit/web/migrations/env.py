"""Alembic environment of the web schema (empty: the web app keeps no business data)."""

from sqlalchemy import MetaData

from cloudaudit.common.migrations import run_env

run_env(MetaData(schema="web"), "web")
