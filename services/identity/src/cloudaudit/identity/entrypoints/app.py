"""Wire the identity service: its deps (settings read once), bus handlers, HTTP API."""

from __future__ import annotations

from cloudaudit.common.actors import ActorTokenIssuer, ActorVerifier
from cloudaudit.common.deps import service_settings
from cloudaudit.common.events.identity import MEMBER_CHANGED, Audience, MemberChanged
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.identity.adapters.orm import outbox
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.entrypoints import bus, http
from cloudaudit.identity.service.deps import IdentityDeps
from cloudaudit.identity.settings import IdentitySettings


def build(runtime: ServiceRuntime) -> None:
    settings = service_settings(runtime.settings, IdentitySettings)

    def uow() -> IdentityUnitOfWork:
        return IdentityUnitOfWork(runtime.sessions, runtime.publish_outboxed)

    deps = IdentityDeps(
        settings=settings,
        uow=uow,
        issuer=ActorTokenIssuer.from_settings(settings),
        verifier=ActorVerifier.for_service(settings, Audience.IDENTITY),
    )
    runtime.use_outbox(outbox)
    runtime.document_publisher(
        MEMBER_CHANGED, MemberChanged, "A member joined, left or changed role in a team."
    )
    bus.register(runtime, deps)
    http.register(runtime.api, deps)
