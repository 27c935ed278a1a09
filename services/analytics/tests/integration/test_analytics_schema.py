"""The analytics migrations and the tables the code declares must agree: a table, column,
index or type the code uses but no migration creates (or the reverse) fails here, not in
production. Alembic's autogenerate comparison between `orm.metadata` and a freshly migrated
schema must find nothing to do."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cloudaudit.analytics.adapters.orm import SCHEMA, metadata
from cloudaudit.analytics.service_spec import SPEC
from cloudaudit.common.db import make_engine
from cloudaudit.common.migrations import upgrade
from sqlalchemy import text
from sqlalchemy.pool import NullPool


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": lambda name, type_, parent: type_ != "schema" or name == SCHEMA,
            "compare_type": True,
            "version_table_schema": SCHEMA,
        },
    )
    return list(compare_metadata(context, metadata))


async def test_migrations_create_exactly_the_tables_the_code_declares(database_url: str):
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:  # start from nothing: this history alone
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        await upgrade(SPEC.migrations, database_url, SCHEMA)
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


def test_the_metadata_holds_every_analytics_table():
    tables = {t.name for t in metadata.sorted_tables}
    assert {
        "outbox",
        "detector_states",
        "cost_anomalies",
        "spend_expectations",
        "recommendations",
        "recommendation_decisions",
        "recommendation_texts",
    } <= tables
