"""The `/cloudaudit` slash command: ack at once (help inline), then run the subcommand lazily."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from cloudaudit.bot.domain.commands import Command, parse
from cloudaudit.bot.domain.errors import BotError, CommandError
from cloudaudit.bot.entrypoints.slack.listeners import (
    Interaction,
    answering,
    interaction_from,
    run_guarded,
    teamless,
)
from cloudaudit.bot.service import connect, people, queries, team_admin
from cloudaudit.bot.service.actors import ActorDirectory
from cloudaudit.bot.service.answers import Answer
from cloudaudit.bot.service.deps import Deps
from cloudaudit.bot.views import people as people_views
from cloudaudit.bot.views.audit import AUDIT_MAX_SHOWN
from cloudaudit.bot.views.help import help_message, help_text, problem_message
from cloudaudit.bot.views.people import TEAMLESS
from cloudaudit.common.events.cost import SpendGroupBy
from cloudaudit.common.events.identity import Action

log = logging.getLogger(__name__)
COMMAND = "/cloudaudit"
AUDIT_DEFAULT_LIMIT = 20

Run = Callable[[Interaction, Command, Deps, ActorDirectory], Awaitable[Answer | None]]


@dataclass(frozen=True)
class Subcommand:
    action: Action | None  # None: the owning service authorizes
    run: Run


async def _accounts(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    return await queries.accounts(ix.who, deps)


async def _disconnect(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    return await queries.disconnect(
        ix.who, deps, str(cmd.args["account"]), bool(cmd.args["delete_data"])
    )


async def _spend(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    group_by = cmd.args["group_by"]
    assert isinstance(group_by, SpendGroupBy)
    return await queries.spend(
        ix.who,
        deps,
        cmd.args.get("period"),  # type: ignore[arg-type]
        group_by,
        cmd.args.get("tag_key"),
    )  # type: ignore[arg-type]


async def _anomalies(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    return await queries.anomalies(ix.who, deps, str(cmd.args["status"]))


async def _recs(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    return await queries.recommendations(ix.who, deps, str(cmd.args["status"]))


async def _may(ix: Interaction, deps: Deps, action: Action) -> bool:
    """Whether to show the controls for an action: a question, not an attempt (not audited);
    answered from the role identity signed, the owning service decides the attempt."""
    return ActorDirectory.allowed(ix.who, action)


async def _team(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    return await queries.team(ix.who, deps, await _may(ix, deps, Action.MANAGE_MEMBERS))


async def _settings(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    return await queries.thresholds(ix.who, deps, await _may(ix, deps, Action.CHANGE_SETTINGS))


async def _audit(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    limit = cmd.args["limit"]
    assert isinstance(limit, int)
    return await queries.audit_log(ix.who, deps, limit)


async def _connect(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> None:
    role_arn = cmd.args.get("role_arn")
    view = await connect.connect_form(ix.who, deps, str(role_arn) if role_arn else None)
    await ix.client.views_open(trigger_id=ix.trigger_id, view=view)


async def _alerts_here(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    return await team_admin.alerts_here(ix.who, deps)


async def _alerts_digest(
    ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory
) -> Answer:
    hour = cmd.args.get("hour")
    return await team_admin.alerts_digest(
        ix.who, deps, str(cmd.args["frequency"]), hour if isinstance(hour, int) else None
    )


async def _expect(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    amount = cmd.args["amount"]
    days = cmd.args["days"]
    assert isinstance(amount, Decimal) and isinstance(days, int)
    return await team_admin.expect(ix.who, deps, str(cmd.args["service"]), amount, days)


async def _invite(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    return await people.invite(ix.who, deps, str(cmd.args["slack_user_id"]), str(cmd.args["role"]))


async def _person(ix: Interaction, actors: ActorDirectory) -> dict[str, Any]:
    return await actors.person(ix.slack_team_id, ix.slack_user_id, ix.team_name)


async def _link(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    code = cmd.args.get("code")
    if code is None:
        return await people.link_code(await _person(ix, actors), deps)
    return await people.link_with(await _person(ix, actors), str(code), deps)


async def _claim(ix: Interaction, cmd: Command, deps: Deps, actors: ActorDirectory) -> Answer:
    return await people.claim(await _person(ix, actors), str(cmd.args["code"]), deps)


# How a person becomes a member, so they run for a Slack person, before identity vouches for
# any actor: identity checks the code (and the kind of account) itself.
PERSONLESS: dict[str, Run] = {"link": _link, "claim": _claim}

SUBCOMMANDS: dict[str, Subcommand] = {
    # An action here is one the bot authorizes itself (it owns the alert settings); every other
    # command is authorized, and a refusal audited, by the service that owns what it touches.
    "accounts": Subcommand(None, _accounts),
    "spend": Subcommand(None, _spend),
    "anomalies": Subcommand(None, _anomalies),
    "recs": Subcommand(None, _recs),
    "team": Subcommand(None, _team),
    "settings": Subcommand(None, _settings),
    "connect": Subcommand(None, _connect),
    "disconnect": Subcommand(None, _disconnect),
    "alerts_here": Subcommand(Action.CONFIGURE_ALERTS, _alerts_here),
    "alerts_digest": Subcommand(Action.CONFIGURE_ALERTS, _alerts_digest),
    "expect": Subcommand(None, _expect),
    "audit": Subcommand(None, _audit),
    "invite": Subcommand(None, _invite),
}


def _audit_command(words: list[str]) -> Command:
    """`audit [--limit N]`: how many of the latest entries to show."""
    usage = f"usage: /cloudaudit audit [--limit N] (N from 1 to {AUDIT_MAX_SHOWN})"
    limit = AUDIT_DEFAULT_LIMIT
    if words:
        value = words[1] if len(words) == 2 and words[0] == "--limit" else None
        if value is None and len(words) == 1 and words[0].startswith("--limit="):
            value = words[0].removeprefix("--limit=")
        if value is None or not value.isdigit() or not 1 <= int(value) <= AUDIT_MAX_SHOWN:
            raise CommandError(usage, command="audit")
        limit = int(value)
    return Command("audit", {"limit": limit})


def _parsed(text: str) -> Command | CommandError:
    try:
        words = text.split()
        if words and words[0].lower() == "audit":
            return _audit_command(words[1:])
        return parse(text)
    except CommandError as exc:
        return exc


def _subcommand(text: str) -> tuple[Subcommand, Command] | None:
    parsed = _parsed(text)
    if isinstance(parsed, Command) and parsed.name in SUBCOMMANDS:
        return SUBCOMMANDS[parsed.name], parsed
    return None  # help, link, claim or unknown input


def _personless(text: str) -> tuple[Run, Command] | None:
    parsed = _parsed(text)
    if isinstance(parsed, Command) and parsed.name in PERSONLESS:
        return PERSONLESS[parsed.name], parsed
    return None


def register(app: AsyncApp, deps: Deps, actors: ActorDirectory) -> None:
    async def ack_command(ack: Callable[..., Awaitable[None]], command: dict[str, Any]) -> None:
        parsed = _parsed(str(command.get("text") or ""))
        if teamless(command):
            log.warning("slash command without a Slack workspace refused")
            await ack(text=TEAMLESS, blocks=people_views.teamless())
        elif isinstance(parsed, CommandError):
            await ack(text=parsed.message, blocks=problem_message(parsed.message, parsed.command))
        elif parsed.name == "help":
            await ack(text=help_text(), blocks=help_message())
        else:
            await ack()

    async def work(ix: Interaction) -> Answer | None:
        found = _subcommand(str(ix.body.get("text") or ""))
        assert found is not None
        subcommand, parsed = found
        return await subcommand.run(ix, parsed, deps, actors)

    async def run_subcommand(
        body: dict[str, Any],
        context: AsyncBoltContext,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        if teamless(body):
            return  # refused in the ack
        ix = interaction_from(deps, body, context, respond, client)
        text = str(body.get("text") or "")
        personless = _personless(text)
        if personless is not None:
            run, parsed = personless
            await answering(ix, lambda: run(ix, parsed, deps, actors), parsed.name)
            return
        found = _subcommand(text)
        if found is None:
            # Help was the answer; an invited person joins now, quietly (nobody else does).
            with contextlib.suppress(BotError):
                await actors.resolve(
                    ix.slack_team_id, ix.slack_user_id, ix.channel_id, ix.team_name
                )
            return
        await run_guarded(ix, actors, found[0].action, work)

    app.command(COMMAND)(ack=ack_command, lazy=[run_subcommand])
