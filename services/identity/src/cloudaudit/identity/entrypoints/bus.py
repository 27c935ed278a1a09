"""Identity on the bus: request/reply for other services, and the audit-log consumer.

Each responder turns transport into a command (verifying the actor token where a person acts),
calls one handler, and replies; `replies_with` turns domain errors into error replies.
"""

from __future__ import annotations

from cloudaudit.common.actors import ActorTokenIssuer, ActorVerifier, Command
from cloudaudit.common.bus import subscribe_durable
from cloudaudit.common.errors import replies_with
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.identity import (
    RPC_AUDIT_LOG,
    RPC_CHANGE_ROLE,
    RPC_MEMBERS,
    RPC_SLACK_USER,
    RPC_TEAM_TOKEN,
    Audience,
    AuditLogReply,
    AuditLogRequest,
    ChangeRoleReply,
    ChangeRoleRequest,
    MembersReply,
    MembersRequest,
    SlackUserReply,
    SlackUserRequest,
    TeamTokenReply,
    TeamTokenRequest,
)
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.identity.service import handlers
from cloudaudit.identity.service.handlers import UowFactory


def register(runtime: ServiceRuntime, uow: UowFactory) -> None:
    broker, names = runtime.broker, runtime.names
    queue = "identity"
    issuer = ActorTokenIssuer.from_settings(runtime.settings)
    verifier = ActorVerifier.for_service(runtime.settings, Audience.IDENTITY)

    @broker.subscriber(names.subject(RPC_SLACK_USER), queue=queue, title="identity.slack_user")
    @replies_with(SlackUserReply)
    async def on_slack_user(request: SlackUserRequest) -> SlackUserReply:
        """Resolve (and on first use enrol) a Slack user; actor tokens for the bot (only the
        bot may ask: it verified the person through Slack's request signature)."""
        return await handlers.slack_actor(request, uow(), issuer)

    @broker.subscriber(names.subject(RPC_TEAM_TOKEN), queue=queue, title="identity.team_token")
    @replies_with(TeamTokenReply)
    async def on_team_token(request: TeamTokenRequest) -> TeamTokenReply:
        """Read-only actor tokens for a team's scheduled work (the bot's digests)."""
        return await handlers.team_token(request, uow(), issuer)

    @broker.subscriber(names.subject(RPC_MEMBERS), queue=queue, title="identity.members")
    @replies_with(MembersReply)
    async def on_members(request: MembersRequest) -> MembersReply:
        """Members of the actor's team."""
        return await handlers.list_members(Command.verified(request, verifier), uow())

    @broker.subscriber(names.subject(RPC_CHANGE_ROLE), queue=queue, title="identity.change_role")
    @replies_with(ChangeRoleReply)
    async def on_change_role(request: ChangeRoleRequest) -> ChangeRoleReply:
        """Promote or demote a member (owners/admins, at least one owner kept)."""
        return await handlers.change_role(Command.verified(request, verifier), uow())

    @broker.subscriber(names.subject(RPC_AUDIT_LOG), queue=queue, title="identity.audit_log_page")
    @replies_with(AuditLogReply)
    async def on_audit_log(request: AuditLogRequest) -> AuditLogReply:
        """The actor's team's latest audit entries (who, what, when), for owners and admins."""
        return await handlers.audit_log(Command.verified(request, verifier), uow())

    @subscribe_durable(
        broker, names, AUDIT_RECORDED, "identity-audit-log", title="identity.audit_log"
    )
    async def on_audit_recorded(event: AuditRecorded) -> None:
        """Append every audit event exactly once to the audit log."""
        await handlers.record_audit(event, uow())
