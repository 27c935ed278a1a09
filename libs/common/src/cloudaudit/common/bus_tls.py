"""TLS on the bus: the one client context every NATS connection uses, the errors that name the
fix, and the `tls` / `cluster` blocks of a nats-server config.

Import-light (the standard library only): the CLI and every service import it.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

# How long nats-server waits for a client's (or a route's) TLS handshake.
TLS_HANDSHAKE_TIMEOUT_S = 2.0
ROUTE_USER = "route"
DEFAULT_CLUSTER_LISTEN = "0.0.0.0:6222"  # routes listen on the node's network


class BusTlsError(Exception):
    """TLS to NATS cannot be set up or was refused; the message names the setting to fix."""


@dataclass(frozen=True)
class ClientTls:
    """What a client trusts and presents: `ca_file` verifies the server (None: the system trust
    store); `cert_file`/`key_file` are a client certificate for servers that require one."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def configured(self) -> bool:
        return any((self.ca_file, self.cert_file, self.key_file))

    def trust(self) -> str:
        """Whom the server's certificate was checked against, for an error message."""
        return f"NATS_CA_FILE={self.ca_file}" if self.ca_file else "the system trust store"


@dataclass(frozen=True)
class BusAccess:
    """How to connect beyond the URL: TLS, and where the current credentials can be re-read
    (`bus_connect.GuardedClient` reads them at each connection, for rotation)."""

    tls: ClientTls = field(default_factory=ClientTls)
    credentials_dir: Path | None = None


def _readable(path: Path, variable: str) -> None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        raise BusTlsError(f"{variable}={path}: no such file; point it at the PEM file") from None
    except PermissionError:
        raise BusTlsError(
            f"{variable}={path} is not readable by this user; fix its permissions"
        ) from None
    except IsADirectoryError:
        raise BusTlsError(f"{variable}={path} is a directory; point it at the PEM file") from None


def client_context(tls: ClientTls) -> ssl.SSLContext:
    """TLS 1.2 or later, the server's certificate required and its name (or address) checked
    against the URL's host; the client certificate loaded when given."""
    if tls.ca_file is not None:
        _readable(tls.ca_file, "NATS_CA_FILE")
    if (tls.cert_file is None) != (tls.key_file is None):
        raise BusTlsError(
            "NATS_CERT_FILE and NATS_KEY_FILE go together: set both (a client certificate and "
            "its private key) or neither"
        )
    try:
        context = ssl.create_default_context(
            cafile=str(tls.ca_file) if tls.ca_file is not None else None
        )
    except ssl.SSLError as exc:
        raise BusTlsError(f"NATS_CA_FILE={tls.ca_file} holds no PEM certificate ({exc})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    if tls.cert_file is not None and tls.key_file is not None:
        _readable(tls.cert_file, "NATS_CERT_FILE")
        _readable(tls.key_file, "NATS_KEY_FILE")
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        except ssl.SSLError as exc:
            raise BusTlsError(
                f"NATS_CERT_FILE={tls.cert_file} and NATS_KEY_FILE={tls.key_file} are not a "
                f"certificate and its matching private key in PEM ({exc.reason or exc})"
            ) from None
    return context


def wants_tls(url: str) -> bool:
    """Whether any server of `url` is addressed as TLS-only (`tls://`)."""
    return any(server.strip().startswith("tls://") for server in url.split(","))


def context_for(url: str, tls: ClientTls) -> ssl.SSLContext | None:
    """The context a connection to `url` uses: ours whenever TLS is configured or asked for
    (`tls://`, with the system trust store when no CA file is given), else None (nats-py then
    still upgrades with the system trust store if the server demands TLS)."""
    if tls.configured or wants_tls(url):
        return client_context(tls)
    return None


def verification_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate-verification error behind `exc`, if that is what it is (ten links)."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return None
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        current = current.__cause__ or current.__context__
    return None


def explain_verification(failure: ssl.SSLCertVerificationError, url: str, tls: ClientTls) -> str:
    """One line that says what failed, against which CA, and what to check."""
    hosts = sorted({urlsplit(s.strip()).hostname or "?" for s in url.split(",")})
    reason = failure.verify_message or failure.reason or str(failure)
    return (
        f"the NATS server's TLS certificate failed verification ({reason}) against "
        f"{tls.trust()}: check that this CA signed the server's certificate (NATS_CA_FILE) "
        f"and that the name in NATS_URL ({', '.join(hosts)}) is among the certificate's "
        "subject alternative names (SANs)"
    )


# -- nats-server config blocks -----------------------------------------------------------------
@dataclass(frozen=True)
class ServerTls:
    """A nats-server `tls` block: the server's certificate and key, the CA that verifies
    client (or route) certificates, and whether clients must present one."""

    cert_file: Path
    key_file: Path
    ca_file: Path
    verify_clients: bool = False
    timeout_s: float = TLS_HANDSHAKE_TIMEOUT_S

    def block(self) -> dict[str, Any]:
        return {
            "cert_file": str(self.cert_file),
            "key_file": str(self.key_file),
            "ca_file": str(self.ca_file),
            "verify": self.verify_clients,
            "timeout": self.timeout_s,
        }


def cluster_block(
    routes: Sequence[str],
    route_password: str,
    tls: ServerTls | None,
    *,
    listen: str = DEFAULT_CLUSTER_LISTEN,
    name: str = "cloudaudit",
    route_user: str = ROUTE_USER,
) -> dict[str, Any]:
    """A nats-server `cluster` block: this node's route listener, the other nodes' route URLs
    (`nats-route://host:6222`, or `host:6222`) with the route user's credentials put in, and
    route TLS. Routes verify each other's certificates both ways (nats-server always does on
    routes), so each node's certificate must carry serverAuth and clientAuth and its address
    or name as a SAN (`cloudaudit creds dev-ca` issues such certificates)."""
    if not route_password:
        raise ValueError("a cluster's routes need a password: give route_password")
    block: dict[str, Any] = {
        "name": name,
        "listen": listen,
        "authorization": {
            "user": route_user,
            "password": route_password,
            "timeout": TLS_HANDSHAKE_TIMEOUT_S,
        },
        "routes": [_route_url(route, route_user, route_password) for route in routes],
    }
    if tls is not None:
        block["tls"] = {**tls.block(), "verify": True}
    return block


def _route_url(route: str, user: str, password: str) -> str:
    parts = urlsplit(route if "://" in route else f"nats-route://{route}")
    if parts.scheme not in ("nats-route", "nats", "tls"):
        raise ValueError(f"route {route!r}: use nats-route://host:port")
    if not parts.hostname or not parts.port:
        raise ValueError(f"route {route!r}: give the host and the route port (host:6222)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"nats-route://{credentials}@{host}:{parts.port}"
