"""Credentials of the embedded NATS: one user per service plus the operator, generated once
in the state directory (files mode 0600 in a 0700 directory), and the server config that
admits exactly those users with the permissions `bus_permissions` derives from the catalogue.

A client connects with its user in the URL (`nats://identity:<password>@127.0.0.1:4222`): every
NATS client accepts that form, and `masked_url` hides the password wherever a URL is shown.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from cloudaudit.common.logging import register_secret

OPERATOR = "operator"
SERVICES = ("analytics", "bot", "identity", "ingest")
BUS_USERS = (*SERVICES, OPERATOR)
PREFIX_FILE = "bus-prefix"


class BusCredentials:
    """The users of one embedded NATS, under `<state>/nats/credentials/`."""

    def __init__(self, nats_root: Path) -> None:
        self.directory = nats_root / "credentials"

    def ensure(self) -> dict[str, str]:
        """Every user's password, generated on first use; registered as secrets (never logged)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        passwords = {}
        for user in BUS_USERS:
            path = self.directory / f"{user}.password"
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(secrets.token_urlsafe(32))
            passwords[user] = path.read_text(encoding="utf-8").strip()
            register_secret(passwords[user])
        return passwords

    def present(self) -> bool:
        return all((self.directory / f"{user}.password").exists() for user in BUS_USERS)

    def url_for(self, url: str, user: str) -> str:
        """`url` with `user`'s credentials (the server must have been started with them)."""
        password = (self.directory / f"{user}.password").read_text(encoding="utf-8").strip()
        register_secret(password)
        return with_user(url, user, password)

    def prefix(self) -> str | None:
        """The bus prefix the running server's permissions were generated for."""
        path = self.directory / PREFIX_FILE
        return path.read_text(encoding="utf-8") if path.exists() else None

    def write_server_config(self, path: Path, prefix: str) -> None:
        """A nats-server config (JSON is valid NATS config) admitting only our users; the
        command line adds JetStream, the address and the port."""
        from cloudaudit.common.bus import BusNames
        from cloudaudit.common.bus_permissions import users

        passwords = self.ensure()
        config = {"authorization": {"users": users(passwords, BusNames(prefix))}}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
        (self.directory / PREFIX_FILE).write_text(prefix, encoding="utf-8")


def with_user(url: str, user: str, password: str) -> str:
    """Each comma-separated server URL of `url` with the user and password in it."""
    parts = []
    for one in url.split(","):
        split = urlsplit(one)
        host = split.netloc.rsplit("@", 1)[-1]
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
        parts.append(urlunsplit(split._replace(netloc=netloc)))
    return ",".join(parts)
