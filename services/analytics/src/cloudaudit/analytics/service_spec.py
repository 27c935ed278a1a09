"""How the `cloudaudit` command finds, migrates and runs the analytics service."""

from pathlib import Path

from cloudaudit.common.service import ServiceSpec

SPEC = ServiceSpec(
    name="analytics",
    schema="analytics",
    migrations=Path(__file__).parent / "migrations",
    build="cloudaudit.analytics.entrypoints.app:build",
    default_http_port=8083,
    cli="cloudaudit.analytics.entrypoints.cli:register",
)
