"""Alembic, one history per service schema: env.py helper and a programmatic upgrade."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command, context
from alembic.config import Config
from cloudaudit.common.db import asyncpg_url, make_engine
from sqlalchemy import MetaData, text
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from cloudaudit.common.db_roles import ServiceRoles
    from cloudaudit.common.service import ServiceSpec


def alembic_config(script_location: Path, database_url: str, schema: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["schema"] = schema
    return cfg


def run_env(metadata: MetaData, schema: str) -> None:
    """Body of every service's migrations/env.py."""
    cfg = context.config
    url = cfg.attributes.get("database_url") or cfg.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to alembic (set DATABASE_URL)")
    if context.is_offline_mode():
        context.configure(
            url=asyncpg_url(url),
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata, schema))


def _configure_and_run(connection: Any, metadata: MetaData, schema: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str, metadata: MetaData, schema: str) -> None:
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            # Two replicas starting together must not race the same history.
            await conn.execute(
                text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": f"migrate:{schema}"}
            )
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.commit()
            await conn.run_sync(_configure_and_run, metadata, schema)
            await conn.commit()
            await conn.execute(
                text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": f"migrate:{schema}"}
            )
            await conn.commit()
    finally:
        await engine.dispose()


def upgrade_sync(
    script_location: Path, database_url: str, schema: str, revision: str = "heads"
) -> None:
    command.upgrade(alembic_config(script_location, database_url, schema), revision)


async def upgrade(
    script_location: Path, database_url: str, schema: str, revision: str = "heads"
) -> None:
    """Run alembic in a worker thread (its env.py owns an event loop of its own)."""
    await asyncio.to_thread(upgrade_sync, script_location, database_url, schema, revision)


async def migrate_services(
    specs: Iterable[ServiceSpec],
    owner_url: str,
    roles: ServiceRoles,
    report: Callable[[ServiceSpec, float], None] | None = None,
) -> None:
    """Every given service's schema up to date, then its database role created and granted
    rights on that schema only (as the role that owns the schemas: `owner_url`). `report` is
    told each service and how long its migrations took."""
    from cloudaudit.common.db_roles import grant_service_roles

    specs = list(specs)
    for spec in specs:
        started = time.monotonic()
        await upgrade(spec.migrations, owner_url, spec.schema)
        if report is not None:
            report(spec, time.monotonic() - started)
    await grant_service_roles(owner_url, specs, roles)
