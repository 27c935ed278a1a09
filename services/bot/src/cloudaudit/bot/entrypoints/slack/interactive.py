"""Buttons, menus and modal submissions. Each listener: ack, then one guarded piece of work."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from slack_bolt.async_app import AsyncApp

from cloudaudit.bot.domain.aws import role_arn_problem
from cloudaudit.bot.domain.errors import CommandError, NotAllowed
from cloudaudit.bot.entrypoints.slack.listeners import Interaction, guarded, just_ack
from cloudaudit.bot.service import connect, decisions, team_admin
from cloudaudit.bot.service.actors import ActorDirectory
from cloudaudit.bot.service.answers import Answer
from cloudaudit.bot.service.deps import Deps
from cloudaudit.bot.views import accounts as account_views
from cloudaudit.bot.views import anomalies as anomaly_views
from cloudaudit.bot.views import recommendations as rec_views
from cloudaudit.bot.views import team as team_views
from cloudaudit.common.events.anomaly import Feedback, TeamSettingsRequest
from cloudaudit.common.events.identity import Action, Audience, Role
from cloudaudit.common.events.recommendation import Decision

Ack = Callable[..., Awaitable[None]]


def _value(ix: Interaction) -> dict[str, Any]:
    """The JSON value of the pressed button (or chosen menu option)."""
    action = (ix.body.get("actions") or [{}])[0]
    raw = action.get("value") or (action.get("selected_option") or {}).get("value") or "{}"
    try:
        value = json.loads(raw)
    except ValueError:
        raise CommandError(
            "that button is from an older version of CloudAudit; run the command again"
        ) from None
    return value if isinstance(value, dict) else {}


def _uuid(value: object) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise CommandError(
            "that button no longer points at anything; run the command again"
        ) from None


def _input(view: dict[str, Any], block_id: str) -> str | None:
    state = ((view.get("state") or {}).get("values") or {}).get(block_id) or {}
    element = state.get("value") or {}
    value = element.get("value")
    return str(value).strip() if value is not None and str(value).strip() else None


def _number(view: dict[str, Any], block_id: str) -> Decimal | None:
    raw = _input(view, block_id)
    if raw is None:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise CommandError(f"{raw} is not a number") from None


def _view(ix: Interaction) -> dict[str, Any]:
    return ix.body.get("view") or {}


async def _ack_form(ack: Ack, errors: dict[str, str]) -> None:
    """A modal's answer: field errors keep it open (and the lazy part then does nothing)."""
    if errors:
        await ack(response_action="errors", errors=errors)
    else:
        await ack()


def _dismiss_errors(view: dict[str, Any]) -> dict[str, str]:
    reason = _input(view, "reason")
    if reason is None or len(reason) < 3:
        return {"reason": "Say in a few words why (it goes in the audit log)."}
    return {}


def _connect_errors(view: dict[str, Any]) -> dict[str, str]:
    problem = role_arn_problem(_input(view, "role_arn") or "")
    return {"role_arn": problem} if problem else {}


def _settings_errors(view: dict[str, Any]) -> dict[str, str]:
    errors = {}
    for block_id in ("min_impact", "min_impact_pct"):
        try:
            number = _number(view, block_id)
        except CommandError as exc:
            errors[block_id] = exc.message
            continue
        if number is not None and number < 0:
            errors[block_id] = "Use zero or more."
    return errors


def register(app: AsyncApp, deps: Deps, actors: ActorDirectory) -> None:
    _anomaly_buttons(app, deps, actors)
    _recommendation_buttons(app, deps, actors)
    _connect_form(app, deps, actors)
    _team_and_settings(app, deps, actors)


def _anomaly_buttons(app: AsyncApp, deps: Deps, actors: ActorDirectory) -> None:
    @guarded(deps, actors)  # analytics authorizes and audits
    async def anomaly_feedback(ix: Interaction) -> Answer:
        value = _value(ix)
        return await decisions.anomaly_feedback(
            ix.who, deps, _uuid(value.get("a")), Feedback(value.get("f", "useful"))
        )

    app.action(re.compile(f"^{anomaly_views.ACTION_FEEDBACK}:"))(
        ack=just_ack, lazy=[anomaly_feedback]
    )
    app.action(anomaly_views.ACTION_CONSOLE)(just_ack)  # a link: Slack opens it, nothing to do
    app.action(account_views.ACTION_QUICK_CREATE)(just_ack)


def _recommendation_buttons(app: AsyncApp, deps: Deps, actors: ActorDirectory) -> None:
    @guarded(deps, actors)
    async def approve(ix: Interaction) -> Answer:
        return await decisions.decide(ix.who, deps, _uuid(_value(ix).get("r")), Decision.APPROVE)

    @guarded(deps, actors)
    async def snooze(ix: Interaction) -> Answer:
        value = _value(ix)
        days = int(value.get("d", 7))
        if days not in rec_views.SNOOZE_DAYS:
            raise CommandError("snooze for 7, 30 or 90 days")
        return await decisions.decide(
            ix.who, deps, _uuid(value.get("r")), Decision.SNOOZE, snooze_days=days
        )

    @guarded(deps, actors)  # the reason first; analytics decides on submit
    async def ask_why_dismiss(ix: Interaction) -> None:
        rec_id = str(_uuid(_value(ix).get("r")))
        message = ix.body.get("message") or {}
        title = next(
            (b["text"]["text"] for b in message.get("blocks", []) if b.get("type") == "header"),
            "this recommendation",
        )
        await ix.client.views_open(
            trigger_id=ix.trigger_id,
            view=rec_views.dismiss_modal(
                rec_id, title, ix.channel_id, (ix.body.get("container") or {}).get("message_ts")
            ),
        )

    app.action(rec_views.ACTION_APPROVE)(ack=just_ack, lazy=[approve])
    app.action(re.compile(f"^{rec_views.ACTION_SNOOZE}:"))(ack=just_ack, lazy=[snooze])
    app.action(rec_views.ACTION_DISMISS)(ack=just_ack, lazy=[ask_why_dismiss])

    async def ack_dismiss(ack: Ack, view: dict[str, Any]) -> None:
        await _ack_form(ack, _dismiss_errors(view))

    @guarded(deps, actors)
    async def dismiss(ix: Interaction) -> Answer | None:
        if _dismiss_errors(_view(ix)):
            return None  # the form showed the error; nothing to do
        return await decisions.decide(
            ix.who,
            deps,
            _uuid(ix.meta.get("r")),
            Decision.DISMISS,
            reason=_input(_view(ix), "reason"),
        )

    app.view(rec_views.VIEW_DISMISS)(ack=ack_dismiss, lazy=[dismiss])


def _connect_form(app: AsyncApp, deps: Deps, actors: ActorDirectory) -> None:
    async def ack_connect(ack: Ack, view: dict[str, Any]) -> None:
        await _ack_form(ack, _connect_errors(view))

    @guarded(deps, actors)  # ingest authorizes and audits
    async def submit_connect(ix: Interaction) -> Answer | None:
        if _connect_errors(_view(ix)):
            return None
        return await connect.connect(
            ix.who, deps, _input(_view(ix), "role_arn") or "", _input(_view(ix), "name")
        )

    app.view(account_views.VIEW_CONNECT)(ack=ack_connect, lazy=[submit_connect])


def _team_and_settings(app: AsyncApp, deps: Deps, actors: ActorDirectory) -> None:
    @guarded(deps, actors)  # identity authorizes and audits
    async def change_role(ix: Interaction) -> Answer:
        value = _value(ix)
        try:
            role = Role(str(value.get("r")))
        except ValueError:
            raise CommandError("pick owner, admin, member or viewer") from None
        return await team_admin.change_role(ix.who, deps, _uuid(value.get("u")), role)

    app.action(team_views.ACTION_ROLE)(ack=just_ack, lazy=[change_role])

    @guarded(deps, actors)
    async def edit_settings(ix: Interaction) -> None:
        if not ActorDirectory.allowed(ix.who, Action.CHANGE_SETTINGS):  # the form is a question
            raise NotAllowed(ActorDirectory.refusal(ix.who, Action.CHANGE_SETTINGS) or "")
        reply = await deps.platform.team_settings(
            TeamSettingsRequest(actor_token=ix.who.token(Audience.ANALYTICS))
        )
        await ix.client.views_open(
            trigger_id=ix.trigger_id,
            view=team_views.settings_modal(reply.min_impact, reply.min_impact_pct, ix.channel_id),
        )

    app.action(team_views.ACTION_EDIT_SETTINGS)(ack=just_ack, lazy=[edit_settings])

    async def ack_settings(ack: Ack, view: dict[str, Any]) -> None:
        await _ack_form(ack, _settings_errors(view))

    @guarded(deps, actors)  # analytics authorizes and audits
    async def save_settings(ix: Interaction) -> Answer | None:
        view = _view(ix)
        if _settings_errors(view):
            return None
        return await team_admin.change_thresholds(
            ix.who, deps, _number(view, "min_impact"), _number(view, "min_impact_pct")
        )

    app.view(team_views.VIEW_SETTINGS)(ack=ack_settings, lazy=[save_settings])
