"""The other CloudAudit services as the bot sees them: typed request/reply over the bus.

Every call returns the reply model on success and raises a BotError a person can act on
otherwise (service down, or the service's own error message).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from faststream.nats import NatsBroker
from pydantic import SecretStr

from cloudaudit.bot.domain.errors import ServiceRefused, ServiceUnavailable
from cloudaudit.common.bus import BusNames, BusUnavailable, rpc
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events import account, anomaly, cost, identity, recommendation
from cloudaudit.common.events.base import Reply, Request

R = TypeVar("R", bound=Reply)

SERVICE_WORDS = {"identity": "identity", "ingest": "cost data (ingest)", "analytics": "analytics"}
RPC_TIMEOUT_S = 5.0
SPEND_TIMEOUT_S = 10.0
TEAM_TOKEN_MARGIN = timedelta(
    minutes=1
)  # a year of spend for many accounts is the slowest question we ask


class Platform:
    """Request/reply to identity, ingest and analytics."""

    def __init__(self, broker: NatsBroker, names: BusNames) -> None:
        self.broker = broker
        self.names = names
        self._team_tokens: dict[UUID, tuple[datetime, Mapping[identity.Audience, SecretStr]]] = {}

    async def ask(
        self, subject: str, request: Request, reply_type: type[R], timeout: float = RPC_TIMEOUT_S
    ) -> R:
        service = subject.split(".", 1)[0]
        try:
            reply = await rpc(self.broker, self.names, subject, request, reply_type, timeout)
        except BusUnavailable:
            raise ServiceUnavailable(
                f"The {SERVICE_WORDS.get(service, service)} service is not answering right now; "
                "try again in a minute (an operator can check `cloudaudit status`)."
            ) from None
        if not reply.ok:
            error = reply.error
            raise ServiceRefused(
                error.code if error else "error",
                error.message if error else f"{service} refused the request",
            )
        return reply

    # -- identity ---------------------------------------------------------------------------
    async def slack_user(self, request: identity.SlackUserRequest) -> identity.SlackUserReply:
        return await self.ask(identity.RPC_SLACK_USER, request, identity.SlackUserReply)

    async def team_tokens(self, team_id: UUID) -> Mapping[identity.Audience, SecretStr]:
        """Read-only actor tokens for a team's scheduled work (digests, alert follow-ups),
        reused until a minute before they expire."""
        cached = self._team_tokens.get(team_id)
        if cached and cached[0] - utcnow() > TEAM_TOKEN_MARGIN:
            return cached[1]
        reply = await self.ask(
            identity.RPC_TEAM_TOKEN,
            identity.TeamTokenRequest(
                team_id=team_id,
                audiences=[
                    identity.Audience.IDENTITY,
                    identity.Audience.INGEST,
                    identity.Audience.ANALYTICS,
                ],
            ),
            identity.TeamTokenReply,
        )
        if reply.tokens_expire_at is not None:
            self._team_tokens[team_id] = (reply.tokens_expire_at, reply.tokens)
        return reply.tokens

    async def slack_installed(
        self, request: identity.SlackInstalledRequest
    ) -> identity.SlackInstalledReply:
        return await self.ask(identity.RPC_SLACK_INSTALLED, request, identity.SlackInstalledReply)

    async def claim(self, request: identity.ClaimRequest) -> identity.ClaimReply:
        return await self.ask(identity.RPC_CLAIM, request, identity.ClaimReply)

    async def link_code(self, request: identity.LinkCodeRequest) -> identity.LinkCodeReply:
        return await self.ask(identity.RPC_LINK_CODE, request, identity.LinkCodeReply)

    async def link_slack(self, request: identity.LinkSlackRequest) -> identity.LinkReply:
        return await self.ask(identity.RPC_LINK_SLACK, request, identity.LinkReply)

    async def invite(self, request: identity.InviteRequest) -> identity.InviteReply:
        return await self.ask(identity.RPC_INVITE, request, identity.InviteReply)

    async def members(self, request: identity.MembersRequest) -> identity.MembersReply:
        return await self.ask(identity.RPC_MEMBERS, request, identity.MembersReply)

    async def change_role(self, request: identity.ChangeRoleRequest) -> identity.ChangeRoleReply:
        return await self.ask(identity.RPC_CHANGE_ROLE, request, identity.ChangeRoleReply)

    # -- ingest -----------------------------------------------------------------------------
    async def spend(self, request: cost.SpendRequest) -> cost.SpendReply:
        return await self.ask(cost.RPC_SPEND, request, cost.SpendReply, SPEND_TIMEOUT_S)

    async def accounts(self, request: account.AccountsRequest) -> account.AccountsReply:
        return await self.ask(account.RPC_ACCOUNTS, request, account.AccountsReply)

    async def disconnect(
        self, request: account.DisconnectAccountRequest
    ) -> account.DisconnectAccountReply:
        return await self.ask(account.RPC_DISCONNECT, request, account.DisconnectAccountReply)

    async def external_id(self, request: account.ExternalIdRequest) -> account.ExternalIdReply:
        return await self.ask(account.RPC_EXTERNAL_ID, request, account.ExternalIdReply)

    async def connect(self, request: account.ConnectAccountRequest) -> account.ConnectAccountReply:
        """A refusal here is a normal answer (the failing step), so it is returned, not raised."""
        try:
            return await rpc(
                self.broker,
                self.names,
                account.RPC_CONNECT,
                request,
                account.ConnectAccountReply,
                SPEND_TIMEOUT_S,
            )
        except BusUnavailable:
            raise ServiceUnavailable(
                "The cost data (ingest) service is not answering right now; try again in a minute."
            ) from None

    # -- analytics --------------------------------------------------------------------------
    async def anomalies(self, request: anomaly.AnomaliesRequest) -> anomaly.AnomaliesReply:
        return await self.ask(anomaly.RPC_ANOMALIES, request, anomaly.AnomaliesReply)

    async def anomaly_feedback(
        self, request: anomaly.AnomalyFeedbackRequest
    ) -> anomaly.AnomalyFeedbackReply:
        return await self.ask(anomaly.RPC_ANOMALY_FEEDBACK, request, anomaly.AnomalyFeedbackReply)

    async def team_settings(
        self, request: anomaly.TeamSettingsRequest
    ) -> anomaly.TeamSettingsReply:
        return await self.ask(anomaly.RPC_TEAM_SETTINGS, request, anomaly.TeamSettingsReply)

    async def expect(self, request: anomaly.ExpectSpendRequest) -> anomaly.ExpectSpendReply:
        return await self.ask(anomaly.RPC_EXPECT, request, anomaly.ExpectSpendReply)

    async def recommendations(
        self, request: recommendation.RecommendationsRequest
    ) -> recommendation.RecommendationsReply:
        return await self.ask(
            recommendation.RPC_RECOMMENDATIONS, request, recommendation.RecommendationsReply
        )

    async def decide(self, request: recommendation.DecideRequest) -> recommendation.DecideReply:
        return await self.ask(recommendation.RPC_DECIDE, request, recommendation.DecideReply)
