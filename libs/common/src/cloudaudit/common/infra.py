"""Where the bus and the database are: configured URLs, or the embedded servers started on demand."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cloudaudit.common.embedded import EmbeddedInfrastructure

if TYPE_CHECKING:
    from cloudaudit.common.settings import CommonSettings

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@dataclass
class Endpoints:
    """Where the bus and the database answer (kept here, import-light, for the CLI)."""

    database_url: str
    nats_url: str


def embedded_for(settings: CommonSettings) -> EmbeddedInfrastructure:
    return EmbeddedInfrastructure(
        settings.state_dir, settings.embedded_nats_port, settings.embedded_postgres_port
    )


def resolve_endpoints(settings: CommonSettings, start: bool = True) -> tuple[Endpoints, list[str]]:
    """Configured URLs win; otherwise start (or reuse) the embedded servers.

    Returns the endpoints and the names of the servers this call started (so the caller that
    started them is the one that stops them).
    """
    started: list[str] = []
    infra = embedded_for(settings)
    if settings.nats_url:
        nats_url = settings.nats_url
    else:
        if start and infra.nats.start():
            started.append("nats")
        nats_url = infra.nats.url
    if settings.database_url is not None:
        database_url = settings.database_url.get_secret_value()
    else:
        if start and infra.postgres.start():
            started.append("postgres")
        database_url = infra.postgres.url
    return Endpoints(database_url=database_url, nats_url=nats_url), started


def stop_embedded(settings: CommonSettings, which: list[str]) -> None:
    infra = embedded_for(settings)
    if "nats" in which:
        infra.nats.stop()
    if "postgres" in which:
        infra.postgres.stop()
