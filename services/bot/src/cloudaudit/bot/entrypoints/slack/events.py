"""Slack Events API: retries handled once, and the bot being removed from the alert channel."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from cloudaudit.bot.service.deps import Deps
from cloudaudit.bot.service.posting import tell_owner
from cloudaudit.bot.views import team as team_views

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    async def once_per_slack_event(
        body: dict[str, Any], request: Any, next: Callable[[], Awaitable[Any]]
    ) -> BoltResponse | None:
        """Slack re-sends an event (X-Slack-Retry-Num) when it saw no 200 in 3 s; the event_id
        is the same, so the second copy is acknowledged and dropped."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            async with deps.uow() as uow:
                first = await uow.repo.first_receipt(str(event_id))
                await uow.commit()
            if not first:
                retry = request.headers.get("x-slack-retry-num", ["0"])[0]
                log.info(
                    "duplicate Slack event dropped",
                    extra={"slack_event_id": event_id, "retry_num": retry},
                )
                return BoltResponse(status=200, body="")
        return await next()

    app.middleware(once_per_slack_event)

    async def left_channel(event: dict[str, Any], body: dict[str, Any]) -> None:
        channel = str(event.get("channel") or "")
        slack_team_id = str(body.get("team_id") or "")
        if not slack_team_id:  # never the tenant "None": an event without a workspace is dropped
            log.warning("event without a Slack workspace dropped", extra={"channel": channel})
            return
        async with deps.uow() as uow:
            team = await uow.repo.clear_alert_channel_if(slack_team_id, channel)
            await uow.commit()
        if team is not None:
            log.warning("removed from the alert channel", extra={"team_id": str(team.team_id)})
            await tell_owner(
                deps,
                team,
                team_views.channel_lost_dm(channel, None),
                f"I was removed from <#{channel}>, the CloudAudit alert channel",
            )

    app.event("channel_left")(left_channel)
    app.event("group_left")(left_channel)
