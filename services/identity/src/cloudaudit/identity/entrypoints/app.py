"""Wire the identity service: its deps (settings read once), bus handlers, HTTP API, mail, and
the housekeeping loop."""

from __future__ import annotations

import asyncio
import logging

from cloudaudit.common.actors import ActorTokenIssuer, ActorVerifier
from cloudaudit.common.deps import service_settings
from cloudaudit.common.events.identity import MEMBER_CHANGED, Audience, MemberChanged
from cloudaudit.common.mail_sink import MailSink, mail_dir
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.identity.adapters.mail import SmtpMailer
from cloudaudit.identity.adapters.orm import outbox
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.entrypoints import bus, http
from cloudaudit.identity.service.deps import IdentityDeps
from cloudaudit.identity.service.housekeeping import prune_expired
from cloudaudit.identity.settings import IdentitySettings

log = logging.getLogger(__name__)


def _mailer(runtime: ServiceRuntime, settings: IdentitySettings) -> SmtpMailer:
    """SMTP to the configured server; without one, to the embedded sink this process serves
    (or shares with another identity process of the same state directory)."""
    if not settings.embedded_mail:
        runtime.notes.append(f"mail via SMTP {settings.smtp_host} ({settings.smtp_tls.value})")
        return SmtpMailer(settings)
    sink = MailSink(mail_dir(settings.state_dir), port=settings.embedded_smtp_port)
    runtime.background(sink.open)

    async def check_sink() -> str:
        if not sink.ready.is_set():
            return "starting"
        return "ok" if sink.error is None else f"failed: {sink.error}"

    runtime.health_checks["mail"] = check_sink
    runtime.notes.append(
        f"mail kept by the embedded SMTP sink in {sink.folder} (`cloudaudit mail list`); "
        "set SMTP_HOST to send real mail"
    )
    return SmtpMailer(settings, sink)


def _housekeeping(runtime: ServiceRuntime, deps: IdentityDeps) -> None:
    interval = deps.settings.prune_interval_s
    if interval <= 0:
        return

    async def prune_loop() -> None:
        while True:
            try:
                await prune_expired(deps.uow(), deps)
            except Exception as exc:  # the loop must survive; the next round retries
                log.warning(
                    "pruning sessions and links failed",
                    extra={"error": f"{type(exc).__name__}: {exc}"[:300]},
                )
            await asyncio.sleep(interval)

    runtime.background(prune_loop)


def build(runtime: ServiceRuntime) -> None:
    settings = service_settings(runtime.settings, IdentitySettings)
    settings.register_secrets()

    def uow() -> IdentityUnitOfWork:
        return IdentityUnitOfWork(runtime.sessions, runtime.publish_outboxed)

    def api_url() -> str:
        port = runtime.bound_api_port or settings.identity_api_port
        return f"http://{settings.local_http_host()}:{port}"

    mailer = _mailer(runtime, settings)
    runtime.on_stop(mailer.drain)  # mail handed over goes out before the sink closes
    if mailer.sink is not None:
        runtime.on_stop(mailer.sink.stop)
    deps = IdentityDeps(
        settings=settings,
        uow=uow,
        issuer=ActorTokenIssuer.from_settings(settings),
        verifier=ActorVerifier.for_service(settings, Audience.IDENTITY),
        mail=mailer,
        api_url=api_url,
    )
    runtime.use_outbox(outbox)
    runtime.document_publisher(
        MEMBER_CHANGED, MemberChanged, "A member joined, left or changed role in a team."
    )
    bus.register(runtime, deps)
    http.register(runtime.api, deps)
    _housekeeping(runtime, deps)
