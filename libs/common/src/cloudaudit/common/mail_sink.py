"""The embedded SMTP sink: a real SMTP server on loopback that keeps every message as a file.

With no mail server configured, sign-up links and notices still travel over real SMTP (the
same client code as production) and land in `<state dir>/mail/` (0700, files 0600), where
`cloudaudit mail list|show` reads them. The sink accepts mail for any address and relays
nothing: it is for one machine, so it binds loopback only.

Messages carry one-time links (verification, password reset): the folder is private to the
user running CloudAudit, and nothing here logs a message's content.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from cloudaudit.common.clock import utcnow

log = logging.getLogger(__name__)
# aiosmtpd logs every SMTP command at INFO (recipients included): the sink's own line is enough.
logging.getLogger("mail.log").setLevel(logging.WARNING)

MAIL_DIR = "mail"
DEFAULT_SMTP_SINK_PORT = 8025
SINK_HOST = "127.0.0.1"
BANNER = "CloudAudit mail sink"  # in the 220 greeting, so a second process knows it is ours
MAX_MESSAGE_BYTES = 1024 * 1024
PROBE_TIMEOUT_S = 2.0
_MESSAGE_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}$")


class MailSinkError(Exception):
    """The sink could not start or a message is not there; the message names the fix."""


def mail_dir(state_dir: Path) -> Path:
    return state_dir / MAIL_DIR


def _private_dir(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # mkdir's mode is filtered by the umask


def _new_message_id(received_at: datetime) -> str:
    """Sortable by arrival: `20270310T120000123456Z-1f2e3d4c`."""
    return f"{received_at.strftime('%Y%m%dT%H%M%S%f')}Z-{uuid.uuid4().hex[:8]}"


def store_message(folder: Path, content: bytes) -> str:
    """Write one message atomically (0600); returns its id."""
    _private_dir(folder)
    message_id = _new_message_id(utcnow())
    partial = folder / f".{message_id}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    os.replace(partial, folder / f"{message_id}.eml")
    return message_id


class _Keeper:
    """aiosmtpd's handler: every accepted message becomes a file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        message_id = await asyncio.to_thread(store_message, self.folder, content)
        log.info("mail sink stored a message", extra={"message_id": message_id})
        return "250 Message accepted for delivery"


def banner_for(folder: Path) -> str:
    return f"{BANNER} {folder.resolve()}"


class MailSink:
    """The sink on `host:port` (port 0 picks a free one), in the running event loop.

    `open()` binds and sets `ready`; `serve()` also runs until cancelled. When the port is
    already served by the sink of the same folder (another identity process on this machine),
    it uses that one instead; see `start` for a port held by anything else."""

    def __init__(self, folder: Path, port: int = DEFAULT_SMTP_SINK_PORT, host: str = SINK_HOST):
        self.folder = folder
        self.host = host
        self.port = port
        self.bound_port: int | None = None
        self.error: str | None = None
        self.ready = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def _listen(self, port: int) -> int:
        from aiosmtpd.smtp import SMTP

        keeper, ident = _Keeper(self.folder), banner_for(self.folder)
        self._server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(
                keeper, hostname="localhost", ident=ident, data_size_limit=MAX_MESSAGE_BYTES
            ),
            self.host,
            port,
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> int:
        """Listen; returns the port mail goes to. A port held by the sink of this folder is
        shared. One held by anything else (another install's sink, another program) costs only
        the fixed number: mail is read from the folder, never through the port, so the sink
        takes a free port instead and says so."""
        try:
            _private_dir(self.folder)
        except OSError as exc:
            raise MailSinkError(
                f"the embedded SMTP sink cannot keep mail in {self.folder} ({exc.strerror}); "
                "fix the state directory's permissions or set CLOUDAUDIT_STATE_DIR"
            ) from None
        try:
            self.bound_port = await self._listen(self.port)
            return self.bound_port
        except OSError as exc:
            if not self.port:
                raise MailSinkError(f"the embedded SMTP sink cannot listen: {exc}") from None
            taken = exc
        if await sink_answers(self.host, self.port, self.folder):
            self.bound_port = self.port  # another process of this install serves it
            return self.port
        self.bound_port = await self._listen(0)
        log.warning(
            "embedded SMTP sink port taken; listening on another",
            extra={
                "port": self.port,
                "bound_port": self.bound_port,
                "error": str(taken.strerror),
                "fix": "set CLOUDAUDIT_EMBEDDED_SMTP_PORT to a free port to keep it fixed",
            },
        )
        return self.bound_port

    async def open(self) -> None:
        """Start, never raising: a failure is kept in `error` (for a health check); `ready`
        is set either way. The server then runs on the loop until `stop()`."""
        try:
            await self.start()
        except MailSinkError as exc:
            self.error = str(exc)
            log.error("embedded SMTP sink not started", extra={"error": self.error})
            return
        finally:
            self.ready.set()
        log.info(
            "embedded SMTP sink ready",
            extra={"port": self.bound_port, "folder": str(self.folder)},
        )

    async def serve(self) -> None:
        """`open()`, then run until cancelled (a background loop of its own)."""
        await self.open()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None


async def sink_answers(host: str, port: int, folder: Path) -> bool:
    """True when `host:port` greets as the sink that keeps mail in `folder`."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), PROBE_TIMEOUT_S
        )
    except (OSError, TimeoutError):
        return False
    try:
        greeting = await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT_S)
        writer.write(b"QUIT\r\n")
        await writer.drain()
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return greeting.decode("utf-8", "replace").rstrip().endswith(banner_for(folder))


# -- reading what the sink kept (the CLI and the tests) -----------------------------------------
@dataclass(frozen=True, kw_only=True)
class StoredMail:
    message_id: str
    received_at: datetime
    sender: str
    to: str
    subject: str
    body: str


def _received_at(message_id: str) -> datetime:
    return datetime.strptime(message_id[:21], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)


def _parse(message_id: str, raw: bytes) -> StoredMail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # what the default policy builds
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if isinstance(part, EmailMessage) else ""
    return StoredMail(
        message_id=message_id,
        received_at=_received_at(message_id),
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        body=str(body).replace("\r\n", "\n"),
    )


def list_mail(folder: Path) -> list[StoredMail]:
    """Every kept message, oldest first (a missing folder is an empty sink)."""
    if not folder.is_dir():
        return []
    return [_parse(path.stem, path.read_bytes()) for path in sorted(folder.glob("*.eml"))]


def read_mail(folder: Path, message_id: str) -> StoredMail:
    """One message by its id (or a unique prefix of it, as `mail list` shows them)."""
    wanted = message_id.strip()
    if _MESSAGE_ID.match(wanted) and (folder / f"{wanted}.eml").is_file():
        return _parse(wanted, (folder / f"{wanted}.eml").read_bytes())
    found = [p for p in folder.glob("*.eml") if p.stem.startswith(wanted)] if wanted else []
    if len(found) == 1:
        return _parse(found[0].stem, found[0].read_bytes())
    problem = "matches several messages" if found else "is not in the sink"
    raise MailSinkError(
        f"message {wanted!r} {problem} ({folder}); `cloudaudit mail list` shows ids"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m cloudaudit.common.mail_sink STATE_DIR [PORT]`: the sink as a process of its own
    (how `cloudaudit up` can run it beside NATS and PostgreSQL), until SIGTERM or SIGINT."""
    import signal
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2 or not (len(args) == 1 or args[1].isdigit()):
        print("usage: python -m cloudaudit.common.mail_sink STATE_DIR [PORT]", file=sys.stderr)
        return 2
    port = int(args[1]) if len(args) == 2 else DEFAULT_SMTP_SINK_PORT
    sink = MailSink(mail_dir(Path(args[0])), port=port)

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await sink.open()
        if sink.error is not None:
            print(f"error: {sink.error}", file=sys.stderr)
            return 1
        print(f"mail sink on {sink.host}:{sink.bound_port}, keeping mail in {sink.folder}")
        await stop.wait()
        await sink.stop()
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
