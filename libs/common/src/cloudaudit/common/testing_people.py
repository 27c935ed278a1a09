"""Slack people for tests, made the way the product makes them: the OAuth installer owns the
workspace's team, and everyone else joins because an owner (or admin) invited them.

Tests that need a team with an owner and members use this instead of relying on who typed
first (which no longer makes anyone an owner) or on email matching (which never links anyone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cloudaudit.common.bus import BusNames, rpc
from cloudaudit.common.events.base import Reply, Request
from cloudaudit.common.events.identity import (
    RPC_INVITE,
    RPC_SLACK_INSTALLED,
    RPC_SLACK_USER,
    Audience,
    InviteReply,
    InviteRequest,
    Role,
    SlackInstalledReply,
    SlackInstalledRequest,
    SlackUserReply,
    SlackUserRequest,
)

R = TypeVar("R", bound=Reply)
Ask = Callable[[str, Request, type[R]], Awaitable[R]]


def bus_ask(broker: Any, names: BusNames) -> Ask[Any]:
    """Request/reply over a FastStream broker, as the bot asks identity."""

    async def ask(subject: str, request: Request, reply_type: type[R]) -> R:
        return await rpc(broker, names, subject, request, reply_type)

    return ask


class SlackWorkspace:
    """One Slack workspace's people as identity knows them."""

    def __init__(self, ask: Ask[Any], slack_team_id: str, name: str | None = None) -> None:
        self.ask = ask
        self.slack_team_id = slack_team_id
        self.name = name or slack_team_id

    async def resolve(self, slack_user_id: str, **profile: Any) -> SlackUserReply:
        """What identity answers the bot for this person (a refusal included)."""
        request = SlackUserRequest.full_member(
            self.slack_team_id, slack_user_id, slack_team_name=self.name, **profile
        )
        reply: SlackUserReply = await self.ask(RPC_SLACK_USER, request, SlackUserReply)
        return reply

    async def person(self, slack_user_id: str, **profile: Any) -> SlackUserReply:
        reply = await self.resolve(slack_user_id, **profile)
        assert reply.ok, reply.error
        return reply

    async def install(self, installer: str, **profile: Any) -> SlackUserReply:
        """The app installed through OAuth by `installer`, who owns the team."""
        installed: SlackInstalledReply = await self.ask(
            RPC_SLACK_INSTALLED,
            SlackInstalledRequest(
                slack_team_id=self.slack_team_id,
                slack_team_name=self.name,
                installer_slack_user_id=installer,
                installer_name=profile.get("display_name"),
                installer_email=profile.get("email"),
            ),
            SlackInstalledReply,
        )
        assert installed.ok, installed.error
        return await self.person(installer, **profile)

    async def invite(
        self, by: SlackUserReply, slack_user_id: str, role: Role = Role.MEMBER
    ) -> None:
        invited: InviteReply = await self.ask(
            RPC_INVITE,
            InviteRequest(
                actor_token=by.tokens[Audience.IDENTITY], slack_user_id=slack_user_id, role=role
            ),
            InviteReply,
        )
        assert invited.ok, invited.error

    async def add(
        self, by: SlackUserReply, slack_user_id: str, role: Role = Role.MEMBER, **profile: Any
    ) -> SlackUserReply:
        """Invited by `by`, then first use: a member with `role`."""
        await self.invite(by, slack_user_id, role)
        return await self.person(slack_user_id, **profile)
