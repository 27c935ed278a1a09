"""What identity's handlers need besides the message and the unit of work, built once at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from cloudaudit.common.actors import ActorTokenIssuer, ActorVerifier
from cloudaudit.common.clock import utcnow
from cloudaudit.identity.adapters.password_workers import PasswordWorkers
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain.mails import Links, Mail
from cloudaudit.identity.settings import IdentitySettings

UowFactory = Callable[[], IdentityUnitOfWork]


class SendsMail(Protocol):
    def send_later(self, mail: Mail) -> None:
        """Deliver in the background; called after the transaction that decided it commits."""
        ...


@dataclass(frozen=True, kw_only=True)
class PeopleDeps:
    """What the people handlers (invitations, codes, ownership) need: settings and the clock
    (the product's settable one, read at each call so a test's frozen date holds). The
    operator CLI builds just this."""

    settings: IdentitySettings
    now: Callable[[], datetime] = utcnow

    @property
    def link_code_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.link_code_ttl_minutes)

    @property
    def claim_code_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.claim_code_ttl_hours)

    @property
    def invitation_ttl(self) -> timedelta:
        return timedelta(days=self.settings.invitation_ttl_days)


@dataclass(frozen=True, kw_only=True)
class IdentityDeps(PeopleDeps):
    """Identity's settings (read once), its unit-of-work factory, its actor-token keys, the
    clock, the mailer, and where identity's API answers (for the links in mail)."""

    uow: UowFactory
    issuer: ActorTokenIssuer
    verifier: ActorVerifier
    mail: SendsMail
    api_url: Callable[[], str]
    passwords: PasswordWorkers = field(default_factory=PasswordWorkers)

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.session_ttl_hours)

    @property
    def login_window(self) -> timedelta:
        return timedelta(minutes=self.settings.login_window_minutes)

    @property
    def verify_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.verify_token_ttl_hours)

    @property
    def reset_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.reset_token_ttl_minutes)

    @property
    def links(self) -> Links:
        api = self.api_url()
        return Links(public_url=self.settings.public_url or api, api_url=api)
