"""Credentials of the embedded NATS: one user per service plus the operator, generated once
in the state directory (files mode 0600 in a 0700 directory), and the server config that
admits exactly those users with the permissions `bus_permissions` derives from the catalogue.

A client connects with its user in the URL (`nats://identity:<password>@127.0.0.1:4222`): every
NATS client accepts that form, and `masked_url` hides the password wherever a URL is shown.

Rotation. A NATS user is one name and one password, and a config reload disconnects every
client whose name and password no longer match. So new credentials are a new *login* of the
same bus user, `<user>~<generation>` (`identity~2`), with the same permissions; both logins
are accepted until the rotation's deadline, then the old one is dropped. The files:

    <login>.password   a login's password (`identity.password` is generation 1)
    <user>.current     the login a new connection of <user> uses (absent: generation 1)
    rotation.json      the rotation under way: deadline, logins retiring, logins coming in
    route.password     the cluster routes' password (only for a cluster's config)
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from cloudaudit.common.logging import register_secret
from cloudaudit.common.private_files import private_dir, write_private

if TYPE_CHECKING:
    from cloudaudit.common.bus_tls import ServerTls

OPERATOR = "operator"
SERVICES = ("analytics", "bot", "identity", "ingest", "web")
BUS_USERS = (*SERVICES, OPERATOR)
PREFIX_FILE = "bus-prefix"
ROTATION_FILE = "rotation.json"
ROUTE_PASSWORD_FILE = "route.password"  # noqa: S105 - a file name, not a password
GENERATION_SEPARATOR = "~"  # not in any bus user's name; unreserved in a URL's user info


class CredentialsError(Exception):
    """The credentials directory is not in a state this step can work from; says what to do."""


@dataclass(frozen=True)
class Rotation:
    """A rotation under way: `retiring` logins are accepted until `deadline` (aware UTC);
    `incoming` (user -> login) are new logins not yet handed out (between two steps)."""

    deadline: datetime
    retiring: tuple[str, ...]
    incoming: dict[str, str] = field(default_factory=dict)

    def due(self, now: datetime) -> bool:
        return now >= self.deadline

    def to_json(self) -> str:
        return json.dumps(
            {
                "deadline": self.deadline.isoformat(),
                "retiring": list(self.retiring),
                "incoming": self.incoming,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Rotation:
        data = json.loads(text)
        deadline = datetime.fromisoformat(data["deadline"])
        if deadline.tzinfo is None:
            raise CredentialsError(f"{ROTATION_FILE}: the deadline has no time zone")
        return cls(deadline, tuple(data.get("retiring", ())), dict(data.get("incoming", {})))


def generation_of(login: str) -> int:
    _, _, number = login.partition(GENERATION_SEPARATOR)
    return int(number) if number.isdigit() else 1


def user_of(login: str) -> str:
    return login.split(GENERATION_SEPARATOR)[0]


class BusCredentials:
    """The users of one embedded NATS, under `<state>/nats/credentials/`."""

    def __init__(self, nats_root: Path) -> None:
        self.directory = nats_root / "credentials"

    @classmethod
    def at(cls, directory: Path) -> BusCredentials:
        """The credentials in `directory` itself (CLOUDAUDIT_BUS_CREDENTIALS_DIR)."""
        credentials = cls(directory)
        credentials.directory = directory
        return credentials

    def _prepare(self) -> None:
        private_dir(self.directory)

    def _password_file(self, login: str) -> Path:
        return self.directory / f"{login}.password"

    def password_of(self, login: str) -> str:
        """A login's password (a registered secret: never logged)."""
        password = self._password_file(login).read_text(encoding="utf-8").strip()
        register_secret(password)
        return password

    def current_login(self, user: str) -> str:
        pointer = self.directory / f"{user}.current"
        return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else user

    def login(self, user: str) -> tuple[str, str]:
        """(login, password) a new connection of `user` uses; the password is a registered
        secret (never logged)."""
        login = self.current_login(user)
        return login, self.password_of(login)

    def ensure(self) -> dict[str, str]:
        """Every user's current password, generated on first use; registered as secrets."""
        self._prepare()
        passwords = {}
        for user in BUS_USERS:
            login = self.current_login(user)
            if not self._password_file(login).exists():
                write_private(self._password_file(login), secrets.token_urlsafe(32), True)
            passwords[user] = self.password_of(login)
        return passwords

    def present(self) -> bool:
        return all(self._password_file(self.current_login(u)).exists() for u in BUS_USERS)

    def url_for(self, url: str, user: str) -> str:
        """`url` with `user`'s current credentials (the server must have been started with them)."""
        login, password = self.login(user)
        return with_user(url, login, password)

    def prefix(self) -> str | None:
        """The bus prefix the running server's permissions were generated for."""
        path = self.directory / PREFIX_FILE
        return path.read_text(encoding="utf-8") if path.exists() else None

    def route_password(self) -> str:
        """The password of a cluster's route user, generated once (a secret)."""
        self._prepare()
        path = self.directory / ROUTE_PASSWORD_FILE
        if not path.exists():
            write_private(path, secrets.token_urlsafe(32), exclusive=True)
        password = path.read_text(encoding="utf-8").strip()
        register_secret(password)
        return password

    # -- the server's side --------------------------------------------------------------------
    def accepted(self) -> list[tuple[str, str, str]]:
        """(user, login, password) of every login the server admits now: each user's current
        one and, while a rotation is under way, the retiring and incoming ones."""
        self.ensure()
        rotation = self.rotation()
        logins = [self.current_login(user) for user in BUS_USERS]
        if rotation is not None:
            logins += [*rotation.retiring, *rotation.incoming.values()]
        unique = sorted(set(logins), key=lambda login: (user_of(login), generation_of(login)))
        return [(user_of(login), login, self.password_of(login)) for login in unique]

    def write_server_config(
        self,
        path: Path,
        prefix: str,
        tls: ServerTls | None = None,
        cluster: dict[str, Any] | None = None,
        server_name: str | None = None,
    ) -> None:
        """A nats-server config (JSON is valid NATS config) admitting only our users, with a
        `tls` block when `tls` is given and a `cluster` block (`bus_tls.cluster_block`) when
        `cluster` is; the command line adds JetStream, the address and the port. The server's
        name belongs here, not on the command line (`-n`): a reload refuses a config whose
        name differs from the running one's."""
        config = self.server_config(prefix, tls, cluster, server_name)
        write_private(path, json.dumps(config, indent=2))
        (self.directory / PREFIX_FILE).write_text(prefix, encoding="utf-8")

    def server_config(
        self,
        prefix: str,
        tls: ServerTls | None = None,
        cluster: dict[str, Any] | None = None,
        server_name: str | None = None,
    ) -> dict[str, Any]:
        from cloudaudit.common.bus import BusNames
        from cloudaudit.common.bus_permissions import users

        entries = {e["user"]: e for e in users(self.ensure(), BusNames(prefix))}
        logins = [
            {**entries[user], "user": login, "password": password}
            for user, login, password in self.accepted()
        ]
        config: dict[str, Any] = {"authorization": {"users": logins}}
        if server_name is not None:
            config["server_name"] = server_name
        if tls is not None:
            config["tls"] = tls.block()
        if cluster is not None:
            config["cluster"] = cluster
        return config

    # -- rotation -----------------------------------------------------------------------------
    def rotation(self) -> Rotation | None:
        path = self.directory / ROTATION_FILE
        return Rotation.from_json(path.read_text(encoding="utf-8")) if path.exists() else None

    def begin_rotation(self, deadline: datetime) -> Rotation:
        """New logins for every user (not handed out yet): after this, a config written by
        `write_server_config` admits old and new; `adopt_incoming` then hands the new ones out."""
        if self.rotation() is not None:
            raise CredentialsError(
                "a credentials rotation is already under way: finish it first "
                "(`cloudaudit creds rotate --finish`)"
            )
        self.ensure()
        incoming = {}
        for user in BUS_USERS:
            current = self.current_login(user)
            login = f"{user}{GENERATION_SEPARATOR}{generation_of(current) + 1}"
            self._password_file(login).unlink(missing_ok=True)  # a leftover of a failed attempt
            write_private(self._password_file(login), secrets.token_urlsafe(32), True)
            incoming[user] = login
        retiring = tuple(self.current_login(user) for user in BUS_USERS)
        rotation = Rotation(deadline, retiring, incoming)
        write_private(self.directory / ROTATION_FILE, rotation.to_json())
        return rotation

    def adopt_incoming(self) -> None:
        """New connections use the new logins from now on (the server admits them already)."""
        rotation = self.rotation()
        if rotation is None or not rotation.incoming:
            return
        for user, login in rotation.incoming.items():
            write_private(self.directory / f"{user}.current", login)
        settled = Rotation(rotation.deadline, rotation.retiring)
        write_private(self.directory / ROTATION_FILE, settled.to_json())

    def end_rotation(self) -> tuple[str, ...]:
        """Stop admitting the retiring logins (in the next config written); returns them, for
        `remove_logins` once the server has reloaded without them."""
        self.adopt_incoming()
        rotation = self.rotation()
        if rotation is None:
            return ()
        (self.directory / ROTATION_FILE).unlink()
        return rotation.retiring

    def remove_logins(self, logins: tuple[str, ...]) -> None:
        current = {self.current_login(user) for user in BUS_USERS}
        for login in logins:
            if login not in current:
                self._password_file(login).unlink(missing_ok=True)


def with_user(url: str, user: str, password: str) -> str:
    """Each comma-separated server URL of `url` with the user and password in it."""
    parts = []
    for one in url.split(","):
        split = urlsplit(one)
        host = split.netloc.rsplit("@", 1)[-1]
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
        parts.append(urlunsplit(split._replace(netloc=netloc)))
    return ",".join(parts)
