"""How the `cloudaudit` command finds, migrates and runs the web app."""

from pathlib import Path

from cloudaudit.common.service import ServiceSpec

SPEC = ServiceSpec(
    name="web",
    schema="web",
    migrations=Path(__file__).parent / "migrations",
    build="cloudaudit.web.entrypoints.app:build",
    default_http_port=8085,
)
