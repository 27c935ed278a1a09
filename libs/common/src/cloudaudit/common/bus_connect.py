"""Connecting to NATS: the one client every connection of the product uses.

On top of nats-py it adds what TLS and credential rotation need:
- the TLS context of `bus_tls` (TLS 1.2+, server certificate and name verified);
- no plaintext fallback: nats-py upgrades to TLS only when the server's INFO asks for it, so a
  client told to use TLS (a `tls://` URL or a CA file) would otherwise send its password in
  clear to a server, or an impostor, that does not ask. It refuses such a server before
  CONNECT, i.e. before any credential leaves;
- a certificate that fails verification at the first connection is an error naming the CA
  file and the server's name, instead of an endless silent retry;
- on a bus whose credentials live in files (`CLOUDAUDIT_BUS_CREDENTIALS_DIR`, the embedded
  bus), each (re)connection reads the current user and password of its bus user first, so a
  service connected before `cloudaudit creds rotate` moves to the new credentials the next
  time it reconnects, at the latest when `--finish` drops the old ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import nats.aio.client
from cloudaudit.common.bus_credentials import BusCredentials, user_of
from cloudaudit.common.bus_tls import (
    BusAccess,
    BusTlsError,
    context_for,
    explain_verification,
    verification_failure,
    wants_tls,
)
from cloudaudit.common.logging import register_secret
from faststream.nats import NatsBroker
from faststream.nats.security import NatsSecurity, NatsUserPassword

log = logging.getLogger(__name__)


class _TlsHalfCloseNotice(logging.Filter):
    """asyncio warns at every TLS connection the server closes: nats-py's stream protocol asks
    to keep its half of the socket open (eof_received returns True), which TLS cannot do, so
    asyncio closes it, as it would anyway. A warning per disconnection is noise in every log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect when using ssl" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_TlsHalfCloseNotice())


def bus_user_of(url: str) -> str | None:
    """The bus user a URL's credentials belong to (`identity~3` -> `identity`), if any."""
    user = urlsplit(url.split(",")[0].strip()).username
    return user_of(unquote(user)) if user else None


class GuardedClient(nats.aio.client.Client):
    """nats-py's client, refusing a server that does not require TLS when TLS is expected,
    explaining certificate failures, and re-reading rotated credentials at each connection."""

    def __init__(self, url: str, access: BusAccess) -> None:
        super().__init__()
        self._url = url
        self._access = access
        self._require_tls = access.tls.configured or wants_tls(url)
        self._bus_user = bus_user_of(url)
        self._ever_connected = False
        self._last_tls_complaint = ""
        # Told, before anything else runs, that the connection closes for good.
        self.on_closed: Callable[[], None] | None = None

    async def connect(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        kwargs["error_cb"] = self._explaining(kwargs.get("error_cb"))
        await super().connect(*args, **kwargs)
        self._ever_connected = True

    def _explaining(self, error_cb: Any) -> Any:
        async def on_error(exc: Exception) -> None:
            failure = verification_failure(exc)
            if failure is not None:
                message = explain_verification(failure, self._url, self._access.tls)
                if not self._ever_connected:
                    raise BusTlsError(message) from exc  # ends connect(): it would never succeed
                if message != self._last_tls_complaint:  # reconnecting: say it once, keep trying
                    self._last_tls_complaint = message
                    log.error("NATS reconnection refused by TLS", extra={"error": message})
            if error_cb is not None:
                await error_cb(exc)

        return on_error

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        if initial_connection and self._require_tls and not info.get("tls_required"):
            if self._transport is not None:
                self._transport.close()
            raise BusTlsError(
                "the NATS server at "
                f"{self._current_server.uri.hostname if self._current_server else '?'} does not "
                "require TLS, but this client is set to use TLS (a tls:// URL or NATS_CA_FILE): "
                "refused before sending credentials. Turn TLS on at the server, or use a "
                "nats:// URL and unset NATS_CA_FILE if the bus is really meant to be plaintext"
            )
        await super()._process_info(info, initial_connection)

    async def _close(self, status: int, do_cbs: bool = True) -> None:
        if not self.is_closed and self.on_closed is not None:
            self.on_closed()
        await super()._close(status, do_cbs)

    def _connect_command(self) -> bytes:
        self._refresh_credentials()
        return super()._connect_command()

    def _refresh_credentials(self) -> None:
        """The current user and password of this connection's bus user, when they are kept in
        files; options win over the URL's user info in nats-py's CONNECT."""
        if self._access.credentials_dir is None or self._bus_user is None:
            return
        try:
            user, password = BusCredentials.at(self._access.credentials_dir).login(self._bus_user)
        except OSError:
            return  # unreadable for a moment (being replaced): the URL's credentials stand
        register_secret(password)
        self.options["user"], self.options["password"] = user, password


async def connect_nats(url: str, access: BusAccess, **options: Any) -> GuardedClient:
    """A raw nats-py connection (the CLI's JetStream commands, tests), guarded as above."""
    client = GuardedClient(url, access)
    context = context_for(url, access.tls)
    if context is not None:
        options["tls"] = context
    servers, user = split_user(url)
    if user is not None:
        options.setdefault("user", user[0])
        options.setdefault("password", user[1])
    try:
        await client.connect(servers, **options)
    except BusTlsError:
        raise
    except Exception as exc:
        failure = verification_failure(exc)
        if failure is not None:
            raise BusTlsError(explain_verification(failure, url, access.tls)) from exc
        raise
    return client


def split_user(url: str) -> tuple[list[str], tuple[str, str] | None]:
    """The servers of NATS_URL without credentials, and the user they carry, to give as the
    client's own option. nats-py adds the servers a cluster advertises (INFO `connect_urls`) to
    its pool without the user of the configured URLs: a reconnect to one of them is refused
    (authorization violation), after which the client stops reconnecting for good. As an
    option, the user goes with every server, configured or discovered."""
    servers: list[str] = []
    users: set[tuple[str, str]] = set()
    for one in url.split(","):
        split = urlsplit(one.strip())
        if split.username is None or split.password is None:  # no user, or a bare token
            servers.append(one.strip())
            continue
        users.add((unquote(split.username), unquote(split.password)))
        servers.append(urlunsplit(split._replace(netloc=split.netloc.rpartition("@")[-1])))
    if len(users) > 1:
        raise ValueError("NATS_URL names different users for its servers: one client is one user")
    return servers, users.pop() if users else None


class GuardedBroker(NatsBroker):
    """FastStream's NATS broker connecting through `GuardedClient`, its user an option of the
    client (see `split_user`) and its TLS context from `access`."""

    def __init__(self, url: str, access: BusAccess, **kwargs: Any) -> None:
        context = context_for(url, access.tls)
        servers, user = split_user(url)
        if user is not None:
            kwargs["security"] = NatsUserPassword(*user, ssl_context=context)
        elif context is not None:
            kwargs["security"] = NatsSecurity(ssl_context=context)
        super().__init__(servers, **kwargs)
        self._bus_url = url
        self._bus_access = access

    async def _connect(self) -> Any:
        client = GuardedClient(self._bus_url, self._bus_access)
        client.on_closed = self._stop_consuming
        await client.connect(**self._connection_kwargs)
        self.config.connect(client)
        return client

    def _stop_consuming(self) -> None:
        """A closed connection (for good: stopped, or an authorization violation nats-py does
        not reconnect from) answers every pull `fetch` at once with ConnectionClosedError,
        which FastStream's pull loop swallows and retries without ever suspending: the process
        would spin at full CPU with its event loop starved, health checks and shutdown
        included. The consuming loops end before the connection is marked closed."""
        for subscriber in self.subscribers:
            subscriber.running = False
