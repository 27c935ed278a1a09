"""Where the bus and the database are: configured URLs, or the embedded servers started on demand."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cloudaudit.common.db_roles import ServiceRoles
from cloudaudit.common.embedded import EmbeddedInfrastructure

if TYPE_CHECKING:
    import ssl

    from cloudaudit.common.bus_tls import BusAccess
    from cloudaudit.common.settings import CommonSettings

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@dataclass
class Endpoints:
    """Where the bus and the database answer (kept here, import-light, for the CLI).

    `nats_url` is the operator's (the CLI's); on a locked-down embedded bus `bus_users` holds
    each service's own URL, with its credentials. Every connection to NATS verifies the server
    against `nats_ca_file` (TLS) and re-reads rotated credentials from `bus_credentials_dir`:
    see `bus_access`."""

    # URLs carry passwords: left out of repr, so an assertion or a traceback never shows them
    database_url: str = field(repr=False)
    nats_url: str = field(repr=False)
    bus_users: dict[str, str] = field(default_factory=dict, repr=False)
    # The services' database roles; a service whose role's password is known here connects
    # as that role, the others with `database_url` (given to each in its own environment).
    database_roles: ServiceRoles = field(default_factory=ServiceRoles)
    nats_ca_file: Path | None = None
    nats_cert_file: Path | None = None
    nats_key_file: Path | None = None
    bus_credentials_dir: Path | None = None

    @property
    def bus_access(self) -> BusAccess:
        """TLS and rotated credentials: what `make_broker` and `connect_nats` take."""
        from cloudaudit.common.bus_tls import BusAccess, ClientTls

        tls = ClientTls(self.nats_ca_file, self.nats_cert_file, self.nats_key_file)
        return BusAccess(tls, self.bus_credentials_dir)

    def nats_tls_context(self) -> ssl.SSLContext | None:
        """The TLS context of a connection to `nats_url` (None: plaintext, unless the server
        demands TLS; then the system trust store)."""
        from cloudaudit.common.bus_tls import context_for

        return context_for(self.nats_url, self.bus_access.tls)

    def nats_url_for(self, service: str) -> str:
        return self.bus_users.get(service, self.nats_url)

    def database_url_for(self, service: str) -> str:
        if service in self.database_roles.passwords:
            return self.database_roles.url_for(self.database_url, service)
        return self.database_url

    def for_service(self, service: str) -> Endpoints:
        """What `service` connects to: its own bus user and database role where they exist."""
        return replace(
            self,
            database_url=self.database_url_for(service),
            nats_url=self.nats_url_for(service),
            database_roles=ServiceRoles(),
        )

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
            # all three, empty where unused: a CA file in the parent's shell must not make a
            # child expect TLS from a plaintext bus
            "NATS_CA_FILE": str(self.nats_ca_file or ""),
            "NATS_CERT_FILE": str(self.nats_cert_file or ""),
            "NATS_KEY_FILE": str(self.nats_key_file or ""),
            "CLOUDAUDIT_BUS_CREDENTIALS_DIR": str(self.bus_credentials_dir or ""),
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
        nats_tls=settings.embedded_nats_tls,
    )


def resolve_endpoints(settings: CommonSettings, start: bool = True) -> tuple[Endpoints, list[str]]:
    """Configured URLs win; otherwise start (or reuse) the embedded servers.

    Returns the endpoints and the names of the servers this call started (so the caller that
    started them is the one that stops them).
    """
    started: list[str] = []
    infra = embedded_for(settings)
    bus = _configured_bus(settings) if settings.nats_url else _embedded_bus(infra, start, started)
    if settings.database_url is not None:
        database_url = settings.database_url.get_secret_value()
    else:
        if start and infra.postgres.start():
            started.append("postgres")
        database_url = infra.postgres.url
    return replace(bus, database_url=database_url, database_roles=service_roles(settings)), started


def _configured_bus(settings: CommonSettings) -> Endpoints:
    """NATS_URL and the TLS files and credentials directory that go with it."""
    assert settings.nats_url is not None
    return Endpoints(
        database_url="",
        nats_url=settings.nats_url.get_secret_value(),
        nats_ca_file=settings.nats_ca_file,
        nats_cert_file=settings.nats_cert_file,
        nats_key_file=settings.nats_key_file,
        bus_credentials_dir=settings.bus_credentials_dir,
    )


def _embedded_bus(infra: EmbeddedInfrastructure, start: bool, started: list[str]) -> Endpoints:
    """The embedded NATS (started unless `start` is False): the operator's URL, each service's,
    the development CA when it speaks TLS, and its credentials directory."""
    infra.nats.check_prefix()
    if start and infra.nats.start():
        started.append("nats")
    bus_users: dict[str, str] = {}
    nats_url = infra.nats.url
    if infra.nats.credentials.present():
        from cloudaudit.common.bus_credentials import OPERATOR, SERVICES

        bus_users = {user: infra.nats.url_for(user) for user in SERVICES}
        nats_url = infra.nats.url_for(OPERATOR)
    # else not started yet (start=False): nothing to connect to anyway
    return Endpoints(
        database_url="",
        nats_url=nats_url,
        bus_users=bus_users,
        nats_ca_file=infra.nats.ca_file,
        bus_credentials_dir=infra.nats.credentials.directory if bus_users else None,
    )


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
