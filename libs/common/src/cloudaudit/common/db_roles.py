"""One PostgreSQL role per service, with rights on its own schema only.

The role that runs the migrations (the URL `cloudaudit migrate` is given) owns every schema,
table, trigger and function. Each service connects as `<prefix><service>` (`cloudaudit_ingest`,
...), which may read and write the rows of its own schema and nothing else: no DDL, no other
schema, and on an insert-only table (identity's `audit_logs`) no UPDATE, DELETE or TRUNCATE, so
the append-only trigger cannot be dropped by the service that writes the log, and history can
leave only through the retention job, run by the migrations role.

`grant_service_roles` creates and grants the roles idempotently after every migration. A role's
password is set when one is known: generated into the state directory for the embedded
PostgreSQL, or read from `CLOUDAUDIT_DB_CREDENTIALS_DIR` (`<service>.password`, e.g. a mounted
Kubernetes secret) where the database is an operator's. Passwords are registered as secrets and
never logged.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloudaudit.common.service import ServiceSpec

DEFAULT_ROLE_PREFIX = "cloudaudit_"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class DatabaseRoleError(Exception):
    """A role could not be named or granted; the message says what to change."""


def quote_literal(value: str) -> str:
    """A SQL string literal (passwords cannot be bound parameters in ALTER ROLE)."""
    return "'" + value.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise DatabaseRoleError(
            f"{name!r} is not a usable PostgreSQL role or schema name: use lower-case letters, "
            "digits and '_' (set CLOUDAUDIT_DB_ROLE_PREFIX accordingly)"
        )
    return f'"{name}"'


class DatabaseCredentials:
    """Service role passwords, one `<service>.password` file each (0600 in a 0700 directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def ensure(self, services: Iterable[str]) -> dict[str, str]:
        """Every service's password, generated on first use (the embedded PostgreSQL)."""
        from cloudaudit.common.private_files import private_dir, write_private

        private_dir(self.directory)
        for service in services:
            path = self.directory / f"{service}.password"
            if not path.exists():
                write_private(path, secrets.token_urlsafe(32), exclusive=True)
        return self.read(services)

    def read(self, services: Iterable[str]) -> dict[str, str]:
        """The passwords present (an operator's directory may hold only some of them)."""
        found = {}
        for service in services:
            path = self.directory / f"{service}.password"
            if path.exists():
                password = path.read_text(encoding="utf-8").strip()
                if not password:
                    raise DatabaseRoleError(
                        f"{path} is empty: write the {service} role's password into it, or "
                        "remove the file to leave that role's password as it is"
                    )
                from cloudaudit.common.logging import register_secret

                register_secret(password)
                found[service] = password
        return found


@dataclass(frozen=True)
class ServiceRoles:
    """The roles the services connect as, and the passwords known for them."""

    prefix: str = DEFAULT_ROLE_PREFIX
    passwords: Mapping[str, str] = field(default_factory=dict)

    def role(self, service: str) -> str:
        return f"{self.prefix}{service}"

    def url_for(self, owner_url: str, service: str) -> str:
        """`owner_url` (same host, port, database and options) as `service`'s role."""
        from sqlalchemy.engine import make_url

        return (
            make_url(owner_url)
            .set(username=self.role(service), password=self.passwords[service])
            .render_as_string(hide_password=False)
        )


def grant_statements(spec: ServiceSpec, roles: ServiceRoles, database: str) -> list[str]:
    """What makes `spec`'s role exist with exactly its rights (safe to run again)."""
    role = _identifier(roles.role(spec.name))
    schema = _identifier(spec.schema)
    name = roles.role(spec.name)
    statements = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {quote_literal(name)}) "
        # CREATE ROLE's defaults are no superuser, database, role, replication or RLS bypass.
        # Only LOGIN is altered after: changing those attributes needs a superuser, which a
        # managed database (RDS, Cloud SQL) never gives the owner of the schemas.
        f"THEN CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT; "
        "END IF; END $$",
        f"ALTER ROLE {role} WITH LOGIN",
        f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role}',
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"REVOKE CREATE ON SCHEMA {schema} FROM {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {role}",
        # Tables the migrations role makes later (ingest's monthly partitions) come with rows.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    ]
    for table in spec.insert_only_tables:
        qualified = f"{schema}.{_identifier(table)}"
        statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {qualified} FROM {role}")
        statements.append(f"GRANT SELECT, INSERT ON {qualified} TO {role}")
    password = roles.passwords.get(spec.name)
    if password is not None:
        statements.append(f"ALTER ROLE {role} WITH PASSWORD {quote_literal(password)}")
    return statements


async def grant_service_roles(
    owner_url: str, specs: Iterable[ServiceSpec], roles: ServiceRoles
) -> None:
    """Create and grant every service's role, as the migrations role (idempotent; serialised
    with the migrations by the same advisory lock, since replicas may migrate together)."""
    from cloudaudit.common.db import make_engine
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    database = make_url(owner_url).database or "postgres"
    engine = make_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('grant-roles'))"))
            for spec in specs:
                for statement in grant_statements(spec, roles, database):
                    await _execute(conn, statement, roles.role(spec.name))
    finally:
        await engine.dispose()


async def _execute(conn: Any, statement: str, role: str) -> None:
    """Run one statement; a failure names the role and PostgreSQL's reason, never the
    statement (it may hold a password)."""
    from sqlalchemy.exc import DBAPIError

    try:
        await conn.exec_driver_sql(statement)
    except DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise DatabaseRoleError(
            f"could not set up the database role {role}: {reason}. Run `cloudaudit migrate` "
            "as the role that owns the schemas (it needs CREATEROLE)"
        ) from None
