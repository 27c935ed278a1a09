"""Where the bus and the database are: configured URLs, or the embedded servers started on demand."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cloudaudit.common.db_roles import ServiceRoles
from cloudaudit.common.embedded import EmbeddedInfrastructure

if TYPE_CHECKING:
    from cloudaudit.common.settings import CommonSettings

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@dataclass
class Endpoints:
    """Where the bus and the database answer (kept here, import-light, for the CLI).

    `nats_url` is the operator's (the CLI's); on a locked-down embedded bus `bus_users` holds
    each service's own URL, with its credentials."""

    database_url: str
    nats_url: str
    bus_users: dict[str, str] = field(default_factory=dict)
    # The services' database roles; a service whose role's password is known here connects
    # as that role, the others with `database_url` (given to each in its own environment).
    database_roles: ServiceRoles = field(default_factory=ServiceRoles)

    def nats_url_for(self, service: str) -> str:
        return self.bus_users.get(service, self.nats_url)

    def database_url_for(self, service: str) -> str:
        if service in self.database_roles.passwords:
            return self.database_roles.url_for(self.database_url, service)
        return self.database_url

    def for_service(self, service: str) -> Endpoints:
        """What `service` connects to: its own bus user and database role where they exist."""
        return Endpoints(self.database_url_for(service), self.nats_url_for(service), self.bus_users)

    @property
    def locked(self) -> bool:
        """The bus admits only its users; streams are the operator's to create."""
        return bool(self.bus_users)

    def service_env(self, service: str) -> dict[str, str]:
        """What differs in a service process's environment: its own bus user and database
        role and, on a locked-down bus, that streams are not its to create (the operator made
        them)."""
        env = {
            "NATS_URL": self.nats_url_for(service),
            "DATABASE_URL": self.database_url_for(service),
        }
        if self.locked:
            env["CLOUDAUDIT_CREATE_STREAMS"] = "false"
        return env


def embedded_for(settings: CommonSettings) -> EmbeddedInfrastructure:
    """The embedded servers; their NATS admits only the product's users, for the bus prefix."""
    return EmbeddedInfrastructure(
        settings.state_dir,
        settings.embedded_nats_port,
        settings.embedded_postgres_port,
        bus_prefix=settings.bus_prefix,
    )


def resolve_endpoints(settings: CommonSettings, start: bool = True) -> tuple[Endpoints, list[str]]:
    """Configured URLs win; otherwise start (or reuse) the embedded servers.

    Returns the endpoints and the names of the servers this call started (so the caller that
    started them is the one that stops them).
    """
    started: list[str] = []
    infra = embedded_for(settings)
    bus_users: dict[str, str] = {}
    if settings.nats_url:
        nats_url = settings.nats_url
    else:
        infra.nats.check_prefix()
        if start and infra.nats.start():
            started.append("nats")
        if infra.nats.credentials.present():
            from cloudaudit.common.bus_credentials import OPERATOR, SERVICES

            bus_users = {user: infra.nats.url_for(user) for user in SERVICES}
            nats_url = infra.nats.url_for(OPERATOR)
        else:  # not started yet (start=False): nothing to connect to anyway
            nats_url = infra.nats.url
    if settings.database_url is not None:
        database_url = settings.database_url.get_secret_value()
    else:
        if start and infra.postgres.start():
            started.append("postgres")
        database_url = infra.postgres.url
    return Endpoints(
        database_url=database_url,
        nats_url=nats_url,
        bus_users=bus_users,
        database_roles=service_roles(settings),
    ), started


def service_roles(settings: CommonSettings) -> ServiceRoles:
    """The services' database roles, with the passwords known here: from
    CLOUDAUDIT_DB_CREDENTIALS_DIR when set, generated for the embedded PostgreSQL, else none
    (each service is then given its own DATABASE_URL, as in the deployment files)."""
    from cloudaudit.common.bus_credentials import SERVICES
    from cloudaudit.common.db_roles import DatabaseCredentials

    if settings.db_credentials_dir is not None:
        passwords = DatabaseCredentials(settings.db_credentials_dir).read(SERVICES)
    elif settings.database_url is None:
        passwords = embedded_for(settings).postgres.credentials.ensure(SERVICES)
    else:
        passwords = {}
    return ServiceRoles(settings.db_role_prefix, passwords)


def stop_embedded(settings: CommonSettings, which: list[str]) -> None:
    infra = embedded_for(settings)
    if "nats" in which:
        infra.nats.stop()
    if "postgres" in which:
        infra.postgres.stop()
