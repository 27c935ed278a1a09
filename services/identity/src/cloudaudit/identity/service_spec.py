"""How the `cloudaudit` command finds, migrates and runs the identity service."""

from pathlib import Path

from cloudaudit.common.service import ServiceSpec

SPEC = ServiceSpec(
    name="identity",
    schema="identity",
    migrations=Path(__file__).parent / "migrations",
    build="cloudaudit.identity.entrypoints.app:build",
    default_http_port=8081,
    cli="cloudaudit.identity.entrypoints.cli:register",
    team_lookup="cloudaudit.identity.entrypoints.cli:team_by_name",
    insert_only_tables=("audit_logs",),
)
