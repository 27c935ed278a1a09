"""Every service's migrations and the tables its code declares must agree: a table, column,
index or type the code uses but no migration creates (or the reverse) fails here, not in
production. Alembic's autogenerate comparison between the service's `orm.metadata` (the same
metadata its Alembic env migrates) and a freshly migrated schema must find nothing to do."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cloudaudit.common.db import make_engine
from cloudaudit.common.migrations import upgrade
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, text
from sqlalchemy.pool import NullPool

SERVICES = ("identity", "ingest", "analytics", "bot")
# Tables that live in a table module of their own: they must reach the service's metadata too.
EXPECTED_TABLES = {
    "identity": {"outbox", "users", "teams", "team_members", "audit_logs"},
    "ingest": {
        "outbox",
        "aws_accounts",
        "cost_data",
        "imports",
        "inventory_runs",
        "inventory_resources",
    },
    "analytics": {
        "outbox",
        "detector_states",
        "cost_anomalies",
        "spend_expectations",
        "recommendations",
        "recommendation_decisions",
        "recommendation_texts",
    },
    "bot": {"outbox", "posted_messages"},
}


def _orm(service: str) -> Any:
    return importlib.import_module(f"cloudaudit.{service}.adapters.orm")


def _declared(service: str) -> MetaData:
    """The service's metadata, plus the tables a library brings its own Table objects for (the
    bot's Slack installation and OAuth-state stores, the installation store's as the bot
    declares them, with text for its sealed credentials): the migration must match those too."""
    from cloudaudit.bot.adapters.installation_store import InstallationStore

    orm = _orm(service)
    if service != "bot":
        return orm.metadata
    declared = MetaData(schema=orm.SCHEMA)
    for table in orm.metadata.tables.values():
        table.to_metadata(declared)
    InstallationStore.build_installations_table(declared, orm.SLACK_INSTALLATIONS)
    InstallationStore.build_bots_table(declared, orm.SLACK_BOTS)
    AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(declared, orm.SLACK_OAUTH_STATES)
    return declared


def _partitions(connection: Any, schema: str) -> set[str]:
    """Partitions the code adds at run time (ingest's monthly cost_data): not declared tables."""
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema"
        ),
        {"schema": schema},
    )
    return {name for (name,) in rows}


def _differences(connection: Any, metadata: MetaData, schema: str) -> list[Any]:
    partitions = _partitions(connection, schema)

    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        if type_ == "schema":
            return name == schema
        return not (type_ == "table" and name in partitions)

    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": include_name,
            "compare_type": True,
            "version_table_schema": schema,
        },
    )
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_create_exactly_the_tables_the_code_declares(
    database_url: str, service: str
):
    orm = _orm(service)
    spec = importlib.import_module(f"cloudaudit.{service}.service_spec").SPEC
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:  # start from nothing: this history alone
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{orm.SCHEMA}" CASCADE'))
        await upgrade(spec.migrations, database_url, orm.SCHEMA)
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences, _declared(service), orm.SCHEMA)
    finally:
        await engine.dispose()
    assert differences == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_metadata_alembic_sees_holds_every_table(service: str):
    tables = {t.name for t in _orm(service).metadata.sorted_tables}
    missing = EXPECTED_TABLES[service] - tables
    assert not missing, f"{service}: tables no migration env sees: {sorted(missing)}"
