"""Identity on the bus: request/reply for other services, and the audit-log consumer.

Each responder turns transport into a command (verifying the actor token where a person acts),
calls one handler, and replies; `replies_with` turns domain errors into error replies. FastStream
injects the rest: `Deps` (identity's deps, provided once at start) and `Uow` (a fresh unit of
work per message).
"""

from __future__ import annotations

from typing import Annotated

from cloudaudit.common.actors import Command
from cloudaudit.common.bus import subscribe_durable
from cloudaudit.common.deps import NewUnitOfWork, ServiceDeps, provide
from cloudaudit.common.errors import replies_with
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.identity import (
    RPC_AUDIT_LOG,
    RPC_CHANGE_ROLE,
    RPC_CLAIM,
    RPC_INVITE,
    RPC_LINK_CODE,
    RPC_LINK_SLACK,
    RPC_MEMBERS,
    RPC_SLACK_INSTALLED,
    RPC_SLACK_USER,
    RPC_TEAM_TOKEN,
    RPC_WEB_SESSION,
    AuditLogReply,
    AuditLogRequest,
    ChangeRoleReply,
    ChangeRoleRequest,
    ClaimReply,
    ClaimRequest,
    InviteReply,
    InviteRequest,
    LinkCodeReply,
    LinkCodeRequest,
    LinkReply,
    LinkSlackRequest,
    MembersReply,
    MembersRequest,
    SlackInstalledReply,
    SlackInstalledRequest,
    SlackUserReply,
    SlackUserRequest,
    TeamTokenReply,
    TeamTokenRequest,
    WebSessionReply,
    WebSessionRequest,
)
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.service import (
    handlers,
    invitations,
    linking,
    ownership,
    slack_people,
    web_sessions,
)
from cloudaudit.identity.service.deps import IdentityDeps

Deps = Annotated[IdentityDeps, ServiceDeps]
Uow = Annotated[IdentityUnitOfWork, NewUnitOfWork]
QUEUE = "identity"


def register(runtime: ServiceRuntime, deps: IdentityDeps) -> None:
    broker, names = runtime.broker, runtime.names
    provide(broker, deps)

    @broker.subscriber(names.subject(RPC_SLACK_USER), queue=QUEUE, title="identity.slack_user")
    @replies_with(SlackUserReply)
    async def on_slack_user(request: SlackUserRequest, uow: Uow, deps: Deps) -> SlackUserReply:
        """Resolve a Slack user (a newcomer joins only by invitation or the team's workspace
        join policy); actor tokens for the bot (only the bot may ask: it verified the person
        through Slack's request signature)."""
        return await slack_people.slack_actor(request, uow, deps)

    @broker.subscriber(
        names.subject(RPC_SLACK_INSTALLED), queue=QUEUE, title="identity.slack_installed"
    )
    @replies_with(SlackInstalledReply)
    async def on_slack_installed(request: SlackInstalledRequest, uow: Uow) -> SlackInstalledReply:
        """An OAuth install completed: the installer Slack authenticated owns the team."""
        return await ownership.slack_installed(request, uow)

    @broker.subscriber(names.subject(RPC_CLAIM), queue=QUEUE, title="identity.claim")
    @replies_with(ClaimReply)
    async def on_claim(request: ClaimRequest, uow: Uow, deps: Deps) -> ClaimReply:
        """`/cloudaudit claim CODE`: the operator's claim code names the first owner."""
        return await ownership.claim(request, uow, deps)

    @broker.subscriber(names.subject(RPC_LINK_CODE), queue=QUEUE, title="identity.link_code")
    @replies_with(LinkCodeReply)
    async def on_link_code(request: LinkCodeRequest, uow: Uow, deps: Deps) -> LinkCodeReply:
        """`/cloudaudit link`: a one-time code the signed-in web user enters."""
        return await linking.slack_link_code(request, uow, deps)

    @broker.subscriber(names.subject(RPC_LINK_SLACK), queue=QUEUE, title="identity.link_slack")
    @replies_with(LinkReply)
    async def on_link_slack(request: LinkSlackRequest, uow: Uow, deps: Deps) -> LinkReply:
        """`/cloudaudit link CODE`: the web user's code links this Slack person to them."""
        return await linking.link_from_slack(request, uow, deps)

    @broker.subscriber(names.subject(RPC_INVITE), queue=QUEUE, title="identity.invite")
    @replies_with(InviteReply)
    async def on_invite(request: InviteRequest, uow: Uow, deps: Deps) -> InviteReply:
        """Invite a person by Slack user id or email (owners and admins)."""
        command = Command.verified(request, deps.verifier)
        return await invitations.invite_from_slack(command, uow, deps)

    @broker.subscriber(names.subject(RPC_TEAM_TOKEN), queue=QUEUE, title="identity.team_token")
    @replies_with(TeamTokenReply)
    async def on_team_token(request: TeamTokenRequest, uow: Uow, deps: Deps) -> TeamTokenReply:
        """Read-only actor tokens for a team's scheduled work (the bot's digests)."""
        return await handlers.team_token(request, uow, deps)

    @broker.subscriber(names.subject(RPC_WEB_SESSION), queue=QUEUE, title="identity.web_session")
    @replies_with(WebSessionReply)
    async def on_web_session(request: WebSessionRequest, uow: Uow, deps: Deps) -> WebSessionReply:
        """A web session's person and teams, and actor tokens for one team (only the web app
        may ask: it holds the session cookie)."""
        return await web_sessions.web_session(request, uow, deps)

    @broker.subscriber(names.subject(RPC_MEMBERS), queue=QUEUE, title="identity.members")
    @replies_with(MembersReply)
    async def on_members(request: MembersRequest, uow: Uow, deps: Deps) -> MembersReply:
        """Members of the actor's team."""
        return await handlers.list_members(Command.verified(request, deps.verifier), uow)

    @broker.subscriber(names.subject(RPC_CHANGE_ROLE), queue=QUEUE, title="identity.change_role")
    @replies_with(ChangeRoleReply)
    async def on_change_role(request: ChangeRoleRequest, uow: Uow, deps: Deps) -> ChangeRoleReply:
        """Promote or demote a member (owners/admins, at least one owner kept)."""
        return await handlers.change_role(Command.verified(request, deps.verifier), uow)

    @broker.subscriber(names.subject(RPC_AUDIT_LOG), queue=QUEUE, title="identity.audit_log_page")
    @replies_with(AuditLogReply)
    async def on_audit_log(request: AuditLogRequest, uow: Uow, deps: Deps) -> AuditLogReply:
        """The actor's team's latest audit entries (who, what, when), for owners and admins."""
        return await handlers.audit_log(Command.verified(request, deps.verifier), uow)

    @subscribe_durable(
        broker, names, AUDIT_RECORDED, "identity-audit-log", title="identity.audit_log"
    )
    async def on_audit_recorded(event: AuditRecorded, uow: Uow) -> None:
        """Append every audit event exactly once to the audit log."""
        await handlers.record_audit(event, uow)
