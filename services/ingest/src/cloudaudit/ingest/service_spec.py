"""How the `cloudaudit` command finds, migrates and runs the ingest service."""

from pathlib import Path

from cloudaudit.common.service import ServiceSpec

SPEC = ServiceSpec(
    name="ingest",
    schema="ingest",
    migrations=Path(__file__).parent / "migrations",
    build="cloudaudit.ingest.entrypoints.app:build",
    default_http_port=8082,
    cli="cloudaudit.ingest.entrypoints.cli:register",
)
