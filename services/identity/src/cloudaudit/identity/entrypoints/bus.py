"""Identity on the bus: request/reply for other services, and the audit-log consumer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from cloudaudit.common.bus import subscribe_durable
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.base import Reply
from cloudaudit.common.events.identity import (
    RPC_AUDIT_LOG,
    RPC_AUTHORIZE,
    RPC_CHANGE_ROLE,
    RPC_MEMBERS,
    RPC_SLACK_USER,
    AuditLogReply,
    AuditLogRequest,
    AuthorizeReply,
    AuthorizeRequest,
    ChangeRoleReply,
    ChangeRoleRequest,
    MembersReply,
    MembersRequest,
    SlackUserReply,
    SlackUserRequest,
)
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.identity.domain.errors import IdentityError
from cloudaudit.identity.service import handlers
from cloudaudit.identity.service.handlers import UowFactory
from pydantic import BaseModel

Q = TypeVar("Q", bound=BaseModel)
A = TypeVar("A", bound=Reply)


def _answer(
    reply_type: type[A],
    handler: Callable[[Q, handlers.IdentityUnitOfWork], Awaitable[A]],
    uow: UowFactory,
) -> Callable[[Q], Awaitable[A]]:
    """Turn a typed handler into an RPC responder: domain errors become error replies."""

    async def respond(request: Q) -> A:
        try:
            return await handler(request, uow())
        except IdentityError as exc:
            return reply_type(ok=False, error={"code": exc.code, "message": exc.message})  # type: ignore[arg-type]

    return respond


def register(runtime: ServiceRuntime, uow: UowFactory) -> None:
    broker, names = runtime.broker, runtime.names
    queue = "identity"

    slack_user = _answer(SlackUserReply, handlers.enrol_slack_user, uow)
    authorize = _answer(AuthorizeReply, handlers.authorize, uow)
    members = _answer(MembersReply, handlers.list_members, uow)
    change_role = _answer(ChangeRoleReply, handlers.change_role, uow)
    audit_log = _answer(AuditLogReply, handlers.audit_log, uow)

    @broker.subscriber(names.subject(RPC_SLACK_USER), queue=queue, title="identity.slack_user")
    async def on_slack_user(request: SlackUserRequest) -> SlackUserReply:
        """Resolve (and on first use enrol) a Slack user."""
        return await slack_user(request)

    @broker.subscriber(names.subject(RPC_AUTHORIZE), queue=queue, title="identity.authorize")
    async def on_authorize(request: AuthorizeRequest) -> AuthorizeReply:
        """May this user do this action in this team? Answers with the reason when not."""
        return await authorize(request)

    @broker.subscriber(names.subject(RPC_MEMBERS), queue=queue, title="identity.members")
    async def on_members(request: MembersRequest) -> MembersReply:
        """Members of a team, for a requester who belongs to it."""
        return await members(request)

    @broker.subscriber(names.subject(RPC_CHANGE_ROLE), queue=queue, title="identity.change_role")
    async def on_change_role(request: ChangeRoleRequest) -> ChangeRoleReply:
        """Promote or demote a member (owners/admins, at least one owner kept)."""
        return await change_role(request)

    @broker.subscriber(names.subject(RPC_AUDIT_LOG), queue=queue, title="identity.audit_log_page")
    async def on_audit_log(request: AuditLogRequest) -> AuditLogReply:
        """A team's latest audit entries (who, what, when), for its owners and admins."""
        return await audit_log(request)

    @subscribe_durable(
        broker, names, AUDIT_RECORDED, "identity-audit-log", title="identity.audit_log"
    )
    async def on_audit_recorded(event: AuditRecorded) -> None:
        """Append every audit event exactly once to the audit log."""
        await handlers.record_audit(event, uow())
