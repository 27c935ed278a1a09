"""How every slow listener runs: after the ack, resolve who acts (identity vouches with signed
actor tokens), then work.

`guarded(action)` is the one place error handling happens, so a listener is only its own small
piece of work. `action` is given only for state the bot itself owns; everything else is
authorized (and a refusal audited) by the service that owns it, whose refusal is shown here.
A refusal is an ephemeral message to the person who pressed or typed; nothing else happens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from cloudaudit.bot.adapters.slack_api import ChannelUnavailable
from cloudaudit.bot.domain.errors import BotError, NotAllowed, ServiceRefused
from cloudaudit.bot.service.actors import ActorDirectory
from cloudaudit.bot.service.answers import Answer
from cloudaudit.bot.service.deps import Actor, Deps
from cloudaudit.bot.views import people as people_views
from cloudaudit.bot.views.common import context, problem, refusal
from cloudaudit.bot.views.people import TEAMLESS
from cloudaudit.common.events.identity import Action

log = logging.getLogger(__name__)

INTERNAL_ERROR = (
    "Something went wrong on our side (it has been logged). Please try again in a minute."
)


@dataclass
class Interaction:
    """One request from Slack as the bot's listeners see it."""

    deps: Deps
    body: dict[str, Any]
    client: AsyncWebClient
    respond: AsyncRespond | None
    slack_team_id: str
    slack_user_id: str
    actor: Actor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def channel_id(self) -> str | None:
        body = self.body
        channel = (
            body.get("channel_id")
            or (body.get("channel") or {}).get("id")
            or (body.get("container") or {}).get("channel_id")
            or self.meta.get("c")
        )
        return str(channel) if channel else None

    @property
    def team_name(self) -> str | None:
        return self.body.get("team_domain") or (self.body.get("team") or {}).get("domain")

    @property
    def trigger_id(self) -> str | None:
        return self.body.get("trigger_id")

    @property
    def who(self) -> Actor:
        assert self.actor is not None, "guarded() resolves the actor first"
        return self.actor

    async def reply(self, answer: Answer) -> None:
        """Show an answer: through response_url when Slack gave one, else ephemeral, else DM."""
        if answer.chart is not None:
            answer = await self._share_chart(answer)
        if self.respond is not None and self.body.get("response_url"):
            await self.respond(
                text=answer.text,
                blocks=answer.blocks,
                replace_original=False,
                response_type="in_channel" if answer.in_channel else "ephemeral",
            )
            return
        slack = self.deps.slack
        if self.channel_id:
            try:
                await slack.ephemeral(
                    self.client, self.channel_id, self.slack_user_id, answer.text, answer.blocks
                )
                return
            except BotError:
                pass  # e.g. the bot is not in that channel: fall back to a DM
        dm = await slack.open_dm(self.client, self.slack_user_id)
        await slack.post(self.client, dm, answer.text, answer.blocks)

    async def _share_chart(self, answer: Answer) -> Answer:
        chart = answer.chart
        assert chart is not None
        slack = self.deps.slack
        note = "Chart posted above."
        try:
            if not self.channel_id:
                raise ChannelUnavailable("", "no_channel")
            await slack.upload_png(
                self.client, self.channel_id, chart.png, chart.filename, chart.title
            )
        except ChannelUnavailable:
            dm = await slack.open_dm(self.client, self.slack_user_id)
            await slack.upload_png(self.client, dm, chart.png, chart.filename, chart.title)
            note = (
                "Chart sent to you in a DM: invite @CloudAudit to this channel to share "
                "charts here."
            )
        return Answer(
            text=answer.text, blocks=[*answer.blocks, context(note)], in_channel=answer.in_channel
        )


Work = Callable[[Interaction], Awaitable[Answer | None]]
ActionFor = Action | Callable[[Interaction], Action | None] | None


def interaction_from(
    deps: Deps,
    body: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond | None,
    client: AsyncWebClient,
) -> Interaction:
    meta: dict[str, Any] = {}
    raw_meta = (body.get("view") or {}).get("private_metadata")
    if raw_meta:
        try:
            meta = json.loads(raw_meta)
        except ValueError:
            meta = {}
    return Interaction(
        deps=deps,
        body=body,
        client=client,
        respond=respond,
        # Never str(None): a payload without a workspace (an org-wide install) would become the
        # tenant "None". It stays empty, and `answering` refuses it.
        slack_team_id=str(context.team_id or ""),
        slack_user_id=str(context.user_id or ""),
        meta=meta,
    )


def teamless(body: dict[str, Any]) -> bool:
    """A request that names no Slack workspace (org-wide installs, malformed payloads)."""
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    return not team


async def run_guarded(
    ix: Interaction, actors: ActorDirectory, action: ActionFor, work: Work
) -> None:
    """Resolve who acts (identity vouches), authorize the bot's own actions, then work."""

    async def step() -> Answer | None:
        ix.actor = await actors.resolve(
            ix.slack_team_id, ix.slack_user_id, ix.channel_id, ix.team_name
        )
        needed = action(ix) if callable(action) else action
        if needed is not None:
            ix.actor = await actors.require(ix.actor, needed)
        return await work(ix)

    await answering(ix, step, getattr(work, "__name__", "?"))


async def answering(
    ix: Interaction, step: Callable[[], Awaitable[Answer | None]], name: str
) -> None:
    """Run one piece of work and show its answer, or the refusal or problem it met. A request
    without a Slack workspace is refused before anything runs."""
    if not ix.slack_team_id or not ix.slack_user_id:
        log.warning("request without a Slack workspace or user refused", extra={"listener": name})
        await _safe_reply(ix, Answer(text=TEAMLESS, blocks=people_views.teamless()))
        return
    try:
        answer = await step()
        if answer is not None:
            await ix.reply(answer)
    except NotAllowed as exc:
        await _safe_reply(ix, Answer(text=f"Sorry, {exc.message}", blocks=refusal(exc.message)))
    except ServiceRefused as exc:
        blocks = refusal(exc.message) if exc.code == "forbidden" else problem(exc.message)
        text = f"Sorry, {exc.message}" if exc.code == "forbidden" else exc.message
        await _safe_reply(ix, Answer(text=text, blocks=blocks))
    except BotError as exc:
        await _safe_reply(ix, Answer(text=exc.message, blocks=problem(exc.message)))
    except Exception:
        log.exception(
            "listener failed", extra={"slack_team_id": ix.slack_team_id, "listener": name}
        )
        await _safe_reply(ix, Answer(text=INTERNAL_ERROR, blocks=problem(INTERNAL_ERROR)))


async def _safe_reply(ix: Interaction, answer: Answer) -> None:
    try:
        await ix.reply(answer)
    except (BotError, SlackApiError) as exc:
        log.warning("could not tell the user", extra={"error": str(exc)[:300]})


def guarded(
    deps: Deps, actors: ActorDirectory, action: ActionFor = None
) -> Callable[[Work], Callable[..., Awaitable[None]]]:
    """Decorator turning a piece of work into a Bolt lazy listener with authorization."""

    def decorate(work: Work) -> Callable[..., Awaitable[None]]:
        async def lazy(
            body: dict[str, Any],
            context: AsyncBoltContext,
            respond: AsyncRespond,
            client: AsyncWebClient,
        ) -> None:
            ix = interaction_from(deps, body, context, respond, client)
            await run_guarded(ix, actors, action, work)

        lazy.__name__ = f"lazy_{work.__name__}"
        lazy.__qualname__ = lazy.__name__
        return lazy

    return decorate


async def just_ack(ack: Callable[..., Awaitable[None]]) -> None:
    """Acknowledge at once: Slack's 3 s limit is never at risk, the work runs lazily."""
    await ack()
