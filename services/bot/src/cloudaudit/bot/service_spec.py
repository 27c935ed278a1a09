"""How the `cloudaudit` command finds, migrates and runs the bot service."""

from pathlib import Path

from cloudaudit.common.service import ServiceSpec

SPEC = ServiceSpec(
    name="bot",
    schema="bot",
    migrations=Path(__file__).parent / "migrations",
    build="cloudaudit.bot.entrypoints.app:build",
    default_http_port=8084,
    cli="cloudaudit.bot.entrypoints.cli:register",
)
