"""What every service declares about itself (found through the `cloudaudit.services` entry point).

A spec is cheap to import: it names modules, it does not import them, so the `cloudaudit`
command can list, migrate and launch services without loading their code.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

SERVICE_ORDER = ("identity", "ingest", "analytics", "bot", "web")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    schema: str
    migrations: Path
    build: str  # "module:function" taking a ServiceRuntime and registering handlers
    default_http_port: int
    cli: str | None = None  # "module:function" taking the root typer app
    # "module:function": async (name) -> team id, for `--team NAME` in every service's
    # commands; declared by the service that owns teams (identity).
    team_lookup: str | None = None
    # Tables its database role may only read and append to (the audit log): no UPDATE,
    # DELETE or TRUNCATE, whatever the service's code does.
    insert_only_tables: tuple[str, ...] = ()

    def load(self, target: str) -> Any:
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)


def discover_services() -> dict[str, ServiceSpec]:
    """Installed services, in start-up order."""
    return dict(_discover())


@functools.cache
def _discover() -> dict[str, ServiceSpec]:
    # Scanning every installed distribution's entry points costs ~15 ms: once per process.
    specs = {ep.name: ep.load() for ep in entry_points(group="cloudaudit.services")}
    ordered = {name: specs[name] for name in SERVICE_ORDER if name in specs}
    ordered.update({n: s for n, s in specs.items() if n not in ordered})
    return ordered
