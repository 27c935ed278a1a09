"""`cloudaudit creds rotate`: new bus credentials (and TLS certificate) without dropping anyone.

One rotation, on a running server:
1. new logins for every bus user are generated (`<user>~<n>`, same permissions);
2. the config admits old and new logins (and names a new server certificate when TLS is on);
   the server reloads it on SIGHUP. Connected clients stay connected: their login is still
   admitted, and TLS sessions already established are not renegotiated;
3. once the server admits the new operator login, new connections are handed the new logins;
4. at `--finish`, at the deadline while `cloudaudit up` runs the embedded bus, or at the
   first start after the deadline (`--grace`, 1 h by default), the config drops the old logins and the server reloads again. A client still connected with an
   old login is disconnected then; the product's own clients re-read their user's current login
   from the credentials directory when they reconnect (`bus_connect`), so they are back within
   a reconnect wait. Anything else still holding old credentials must have been restarted
   within the grace.

The server is anything with the `ReloadableBus` shape: the embedded NATS, or a cluster test's
nodes (whose `reload` rewrites every node's config and signals each).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from cloudaudit.common.bus_credentials import OPERATOR, BusCredentials, with_user
from cloudaudit.common.clock import wall_now

DEFAULT_GRACE = timedelta(hours=1)
RELOAD_TIMEOUT_S = 10.0
PROBE_EVERY_S = 0.1


class RotationError(Exception):
    """A rotation step could not complete; the message says what state it left and what to do."""


class ReloadableBus(Protocol):
    @property
    def credentials(self) -> BusCredentials: ...

    @property
    def url(self) -> str: ...

    @property
    def ca_file(self) -> Path | None: ...

    @property
    def tls(self) -> bool: ...

    def reload(self) -> bool:
        """Write the config from the credentials' current state and have the server(s) reload
        it; False when no server is running (the next start uses the config)."""
        ...

    def ensure_certificates(self, renew: bool = False) -> None: ...


@dataclass(frozen=True)
class RotationResult:
    logins: tuple[str, ...]  # the logins now handed out
    deadline: datetime | None  # until when the old ones are admitted (None: finished)
    reloaded: bool  # whether a running server took it at once
    certificate_renewed: bool


def settle(credentials: BusCredentials, now: datetime | None = None) -> tuple[str, ...]:
    """Before a server starts: hand out new logins a rotation left mid-way, and finish a
    rotation whose deadline passed. Returns the logins dropped."""
    credentials.adopt_incoming()
    rotation = credentials.rotation()
    if rotation is None or not rotation.due(now or wall_now()):
        return ()
    dropped = credentials.end_rotation()
    credentials.remove_logins(dropped)
    return dropped


async def rotate(
    bus: ReloadableBus, grace: timedelta = DEFAULT_GRACE, renew_certificate: bool = True
) -> RotationResult:
    """Steps 1 to 3. A rotation already under way is finished first when its deadline passed,
    and refused otherwise (`finish` it, then rotate)."""
    credentials = bus.credentials
    if grace <= timedelta(0):
        raise RotationError("--grace must be longer than 0 (e.g. 1h): old credentials need time")
    under_way = credentials.rotation()
    if under_way is not None and under_way.due(wall_now()):
        await finish(bus)  # with its reload: the running server must stop admitting them too
    rotation = credentials.begin_rotation(wall_now() + grace)
    renewed = bus.tls and renew_certificate
    if renewed:
        bus.ensure_certificates(renew=True)
    reloaded = bus.reload()
    if reloaded:
        login = rotation.incoming[OPERATOR]
        await _wait_until(bus, login, admitted=True)
    credentials.adopt_incoming()
    current = tuple(credentials.current_login(u) for u in rotation.incoming)
    return RotationResult(current, rotation.deadline, reloaded, renewed)


async def finish(bus: ReloadableBus) -> tuple[str, ...]:
    """Step 4 now: the old logins are refused from the moment this returns. Returns them."""
    credentials = bus.credentials
    if credentials.rotation() is None:
        return ()
    dropped = credentials.end_rotation()
    if bus.reload():
        retired_operator = next((d for d in dropped if d.startswith(OPERATOR)), None)
        if retired_operator is not None:
            await _wait_until(bus, retired_operator, admitted=False)
    credentials.remove_logins(dropped)
    return dropped


async def finish_when_due(bus: ReloadableBus, now: datetime | None = None) -> tuple[str, ...]:
    """Step 4 at the deadline, on a server that keeps running past it: what `cloudaudit up`
    checks while it supervises the embedded bus, so a grace ends on time and not only at
    `--finish` or the next start. Returns the logins dropped (none before the deadline)."""
    rotation = bus.credentials.rotation()
    if rotation is None or not rotation.due(now or wall_now()):
        return ()
    return await finish(bus)


async def _wait_until(bus: ReloadableBus, login: str, admitted: bool) -> None:
    """Until the reloaded server admits (or refuses) `login`: SIGHUP returns before the server
    has read the new config."""
    from cloudaudit.common.bus_connect import connect_nats
    from cloudaudit.common.bus_tls import BusAccess, ClientTls

    password = bus.credentials.password_of(login)
    url = with_user(bus.url, login, password)
    access = BusAccess(ClientTls(bus.ca_file))
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            client = await connect_nats(
                url, access, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
            )
        except Exception:
            if not admitted:
                return
        else:
            await client.close()
            if admitted:
                return
        await asyncio.sleep(PROBE_EVERY_S)
    state = "admit the new" if admitted else "refuse the old"
    raise RotationError(
        f"the NATS server did not {state} credentials within {RELOAD_TIMEOUT_S:g}s of the "
        "reload; see its log for a config error. Both old and new credentials are kept; run "
        "`cloudaudit creds rotate --finish` once the server reloads"
    )
