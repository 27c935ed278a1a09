"""Mail out over SMTP (aiosmtplib): to the configured server, or to the embedded sink.

A handler hands a mail over after its transaction commits (`send_later`) and answers at once:
the answer neither waits for the mail server nor takes longer for one address than another,
so its timing says nothing about whether an account exists. A crash between the commit and
the delivery loses that mail; the person asks for a new link (resend, reset), which is why
nothing here needs the link stored in clear. Logs name the mail's kind, never its body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import aiosmtplib
from cloudaudit.common.clock import utcnow
from cloudaudit.common.mail_sink import SINK_HOST, MailSink
from cloudaudit.identity.domain.mails import Mail
from cloudaudit.identity.settings import IdentitySettings, SmtpTls

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 20.0
DELIVERY_ATTEMPTS = 3
RETRY_DELAY_S = 1.0
SINK_READY_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 10.0


class MailNotDelivered(Exception):
    """The mail server refused or did not answer; the message names where and what to check."""


def _message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to  # a normalised address: no spaces, so no header can be injected
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    return message


class SmtpMailer:
    """Delivers mail in background tasks it keeps track of (drained when identity stops)."""

    def __init__(self, settings: IdentitySettings, sink: MailSink | None = None) -> None:
        self.settings = settings
        self.sink = sink
        self._pending: set[asyncio.Task[None]] = set()

    def send_later(self, mail: Mail) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver_or_log(mail))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver_or_log(self, mail: Mail) -> None:
        started = time.monotonic()
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                await self.deliver(mail)
            except MailNotDelivered as exc:
                if attempt == DELIVERY_ATTEMPTS:
                    log.warning("mail not delivered", extra={"kind": mail.kind, "error": str(exc)})
                    return
                await asyncio.sleep(RETRY_DELAY_S * attempt)
                continue
            log.info(
                "mail sent",
                extra={"kind": mail.kind, "ms": round((time.monotonic() - started) * 1000)},
            )
            return

    async def _target(self) -> tuple[str, int, SmtpTls]:
        if self.sink is None:
            host = self.settings.smtp_host or SINK_HOST
            return host, self.settings.smtp_port_or_default, self.settings.smtp_tls
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sink.ready.wait(), SINK_READY_TIMEOUT_S)
        if self.sink.bound_port is None:
            raise MailNotDelivered(self.sink.error or "the embedded SMTP sink is not running")
        return self.sink.host, self.sink.bound_port, SmtpTls.NONE

    async def deliver(self, mail: Mail) -> None:
        """One attempt, now (what `send_later` retries)."""
        host, port, tls = await self._target()
        password = self.settings.smtp_password
        try:
            await aiosmtplib.send(
                _message(mail, self.settings.mail_from),
                hostname=host,
                port=port,
                username=self.settings.smtp_username if self.sink is None else None,
                password=password.get_secret_value() if password and self.sink is None else None,
                use_tls=tls is SmtpTls.TLS,
                start_tls=tls is SmtpTls.STARTTLS,
                local_hostname="localhost" if self.sink is not None else None,
                timeout=SMTP_TIMEOUT_S,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailNotDelivered(
                f"SMTP {host}:{port} ({tls.value}): {type(exc).__name__}: {exc}"[:300]
                + "; check SMTP_HOST, SMTP_PORT, SMTP_TLS and the credentials"
            ) from None

    async def drain(self) -> None:
        """Let mail already handed over go out before identity stops (bounded)."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=DRAIN_TIMEOUT_S)
