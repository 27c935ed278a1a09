"""Wire the identity service: unit of work, bus handlers, HTTP API."""

from __future__ import annotations

from cloudaudit.common.events.identity import MEMBER_CHANGED, MemberChanged
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.common.settings import load_settings
from cloudaudit.identity.adapters.orm import outbox
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.entrypoints import bus, http
from cloudaudit.identity.settings import IdentitySettings


def build(runtime: ServiceRuntime) -> None:
    settings = (
        runtime.settings
        if isinstance(runtime.settings, IdentitySettings)
        else load_settings(IdentitySettings)
    )

    def uow() -> IdentityUnitOfWork:
        return IdentityUnitOfWork(runtime.sessions, runtime.publish_outboxed)

    runtime.use_outbox(outbox)
    runtime.document_publisher(
        MEMBER_CHANGED, MemberChanged, "A member joined, left or changed role in a team."
    )
    bus.register(runtime, uow)
    http.register(runtime.http, uow, settings)
