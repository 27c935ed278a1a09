"""What identity's handlers need besides the message and the unit of work, built once at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cloudaudit.common.actors import ActorTokenIssuer, ActorVerifier
from cloudaudit.common.clock import utcnow
from cloudaudit.identity.adapters.password_workers import PasswordWorkers
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.settings import IdentitySettings

UowFactory = Callable[[], IdentityUnitOfWork]


@dataclass(frozen=True, kw_only=True)
class IdentityDeps:
    """Identity's settings (read once), its unit-of-work factory, its actor-token keys and the
    clock (the product's settable one, read at each call so a test's frozen date holds)."""

    settings: IdentitySettings
    uow: UowFactory
    issuer: ActorTokenIssuer
    verifier: ActorVerifier
    now: Callable[[], datetime] = utcnow
    passwords: PasswordWorkers = field(default_factory=PasswordWorkers)

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.session_ttl_hours)

    @property
    def login_window(self) -> timedelta:
        return timedelta(minutes=self.settings.login_window_minutes)
