"""Connecting an AWS account from Slack: the modal, the request, and telling the result once.

Ingest may validate inside the request or later (then it publishes account.v1.connected or
account.v1.connection_failed). Whichever path takes the pending connection row tells the person.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from cloudaudit.bot.service.answers import Answer
from cloudaudit.bot.service.deps import Actor, Deps
from cloudaudit.bot.views import accounts as account_views
from cloudaudit.common.events.account import (
    AccountConnected,
    AccountConnectionFailed,
    ConnectAccountRequest,
    ExternalIdRequest,
)
from cloudaudit.common.events.identity import Audience

log = logging.getLogger(__name__)


async def connect_form(actor: Actor, deps: Deps, role_arn: str | None = None) -> dict[str, Any]:
    """The connect form: the team's ExternalId and CloudFormation link, then the role ARN
    (filled in when the command named one: `/cloudaudit connect arn:aws:iam::…`)."""
    reply = await deps.platform.external_id(
        ExternalIdRequest(actor_token=actor.token(Audience.INGEST))
    )
    return account_views.connect_modal(reply, actor.channel_id, role_arn)


async def connect(actor: Actor, deps: Deps, role_arn: str, name: str | None) -> Answer | None:
    """None when the result was (or will be) told by the event path."""
    async with deps.uow() as uow:
        await uow.repo.remember_connection(
            actor.team_id, actor.user_id, actor.slack_user_id, actor.channel_id, role_arn
        )
        await uow.commit()
    # ingest authorizes and audits the connection (or its refusal)
    reply = await deps.platform.connect(
        ConnectAccountRequest(
            actor_token=actor.token(Audience.INGEST), role_arn=role_arn, name=name
        )
    )
    if reply.ok and not reply.aws_account_id:
        return Answer(text="Checking the role", blocks=account_views.connect_started(role_arn))
    async with deps.uow() as uow:
        taken = await uow.repo.take_connection(actor.team_id, actor.user_id)
        await uow.commit()
    if taken is None:
        return None
    if reply.ok and reply.aws_account_id:
        return Answer(
            text=f"Connected {reply.aws_account_id}",
            blocks=account_views.connect_succeeded(reply.aws_account_id, name),
        )
    error = reply.error
    return Answer(
        text="Connecting failed",
        blocks=account_views.connect_failed(
            reply.failed_step, error.message if error else "ingest refused the role"
        ),
    )


async def _tell_requester(
    deps: Deps,
    event_id: UUID,
    team_id: UUID,
    requested_by: UUID | None,
    text: str,
    blocks: list[dict[str, Any]],
) -> bool:
    async with deps.uow() as uow:
        pending = await uow.repo.take_connection(team_id, requested_by)
        team = await uow.repo.team(team_id)
        if pending is None or team is None:
            await uow.commit()
            return False
        ref = await uow.repo.claim(
            event_id, team_id, "aws_account", str(event_id), "notice", text, blocks
        )
        if ref.status == "posted":
            return False
        client = await deps.slack.client_for(team.slack_team_id)
        channel = await deps.slack.open_dm(client, pending["slack_user_id"])
        posted = await deps.slack.post(client, channel, text, blocks)
        await uow.repo.mark_posted(event_id, posted.channel_id, posted.ts)
        await uow.commit()
    return True


async def on_account_connected(event: AccountConnected, deps: Deps) -> bool:
    return await _tell_requester(
        deps,
        event.event_id,
        event.team_id,
        event.connected_by,
        f"Connected {event.aws_account_id}",
        account_views.connect_succeeded(event.aws_account_id, event.name),
    )


async def on_connection_failed(event: AccountConnectionFailed, deps: Deps) -> bool:
    return await _tell_requester(
        deps,
        event.event_id,
        event.team_id,
        event.requested_by,
        "Connecting failed",
        account_views.connect_failed(event.step, event.message),
    )
