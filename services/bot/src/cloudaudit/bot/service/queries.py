"""Read-only answers: accounts, spend (with a chart), anomalies, recommendations, team, settings,
the audit log."""

from __future__ import annotations

import asyncio

from cloudaudit.bot.domain.digest import zone
from cloudaudit.bot.domain.periods import resolve_period
from cloudaudit.bot.service.answers import Answer, Chart
from cloudaudit.bot.service.deps import Actor, Deps
from cloudaudit.bot.views import accounts as account_views
from cloudaudit.bot.views import anomalies as anomaly_views
from cloudaudit.bot.views import audit as audit_views
from cloudaudit.bot.views import charts
from cloudaudit.bot.views import recommendations as rec_views
from cloudaudit.bot.views import spend as spend_views
from cloudaudit.bot.views import team as team_views
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.account import AccountsRequest, DisconnectAccountRequest
from cloudaudit.common.events.anomaly import AnomaliesRequest, AnomalyStatus, TeamSettingsRequest
from cloudaudit.common.events.cost import Granularity, SpendGroupBy, SpendRequest
from cloudaudit.common.events.identity import (
    RPC_AUDIT_LOG,
    Audience,
    AuditLogReply,
    AuditLogRequest,
    MembersRequest,
)
from cloudaudit.common.events.recommendation import RecommendationsRequest, RecommendationStatus

# Daily bars stop being readable past a quarter; longer periods are charted by month.
DAILY_CHART_MAX_DAYS = 92


async def accounts(actor: Actor, deps: Deps) -> Answer:
    reply = await deps.platform.accounts(AccountsRequest(actor_token=actor.token(Audience.INGEST)))
    return Answer(
        text=f"{len(reply.accounts)} AWS accounts",
        blocks=account_views.accounts_list(reply.accounts),
    )


async def disconnect(actor: Actor, deps: Deps, reference: str, delete_data: bool) -> Answer:
    """Disconnect one of the team's accounts, named by AWS id or name (ingest authorizes and
    audits); an unknown name lists the team's accounts."""
    listed = await deps.platform.accounts(AccountsRequest(actor_token=actor.token(Audience.INGEST)))
    wanted = reference.strip().lower()
    matches = [
        a
        for a in listed.accounts
        if wanted in (a.aws_account_id, a.name.lower(), str(a.account_id))
    ]
    if len(matches) != 1:
        return Answer(
            text="no such account",
            blocks=account_views.which_account(reference, listed.accounts, len(matches)),
        )
    reply = await deps.platform.disconnect(
        DisconnectAccountRequest(
            actor_token=actor.token(Audience.INGEST),
            account_id=matches[0].account_id,
            delete_data=delete_data,
        )
    )
    return Answer(
        text=f"disconnected {reply.aws_account_id}", blocks=account_views.disconnected(reply)
    )


async def spend(
    actor: Actor, deps: Deps, period: str | None, group_by: SpendGroupBy, tag_key: str | None
) -> Answer:
    today = utcnow().astimezone(zone(actor.time_zone)).date()
    resolved = resolve_period(period, today)
    granularity = (
        Granularity.DAILY if resolved.days <= DAILY_CHART_MAX_DAYS else Granularity.MONTHLY
    )
    reply = await deps.platform.spend(
        SpendRequest(
            actor_token=actor.token(Audience.INGEST),
            start=resolved.start,
            end=resolved.end,
            group_by=group_by,
            tag_key=tag_key,
            granularity=granularity,
        )
    )
    grouping = spend_views.group_label(group_by, tag_key)
    headline = spend_views.spend_headline(reply, resolved.label, grouping)
    png = await asyncio.to_thread(charts.spend_chart_png, reply.groups, headline, reply.currency)
    chart = (
        Chart(png, f"spend-{resolved.start}-{resolved.end}-{group_by.value}.png", headline)
        if png
        else None
    )
    return Answer(
        text=headline,
        in_channel=True,
        chart=chart,
        blocks=spend_views.spend_table(reply, resolved.label, grouping),
    )


async def anomalies(actor: Actor, deps: Deps, which: str) -> Answer:
    reply = await deps.platform.anomalies(
        AnomaliesRequest(
            actor_token=actor.token(Audience.ANALYTICS),
            status=AnomalyStatus.OPEN if which == "open" else None,
        )
    )
    return Answer(
        text=f"{len(reply.anomalies)} anomalies",
        blocks=anomaly_views.anomaly_list(reply.anomalies, which),
    )


async def recommendations(actor: Actor, deps: Deps, which: str) -> Answer:
    reply = await deps.platform.recommendations(
        RecommendationsRequest(
            actor_token=actor.token(Audience.ANALYTICS),
            status=RecommendationStatus.OPEN if which == "open" else None,
        )
    )
    return Answer(
        text=f"{len(reply.recommendations)} recommendations",
        blocks=rec_views.recommendation_list(reply.recommendations, which),
    )


async def team(actor: Actor, deps: Deps, can_manage: bool) -> Answer:
    reply = await deps.platform.members(MembersRequest(actor_token=actor.token(Audience.IDENTITY)))
    return Answer(
        text=f"{len(reply.members)} team members",
        blocks=team_views.team_list(reply.members, can_manage),
    )


async def thresholds(actor: Actor, deps: Deps, can_edit: bool) -> Answer:
    reply = await deps.platform.team_settings(
        TeamSettingsRequest(actor_token=actor.token(Audience.ANALYTICS))
    )
    return Answer(
        text="Anomaly alert thresholds",
        blocks=team_views.settings_view(reply.min_impact, reply.min_impact_pct, can_edit),
    )


async def audit_log(actor: Actor, deps: Deps, limit: int) -> Answer:
    """The team's latest audit entries; identity checks the asker is an owner or admin."""
    reply = await deps.platform.ask(
        RPC_AUDIT_LOG,
        AuditLogRequest(actor_token=actor.token(Audience.IDENTITY), limit=limit),
        AuditLogReply,
    )
    return Answer(
        text=f"Audit log: {len(reply.entries)} entries",
        blocks=audit_views.audit_list(reply.entries, more=reply.next_before is not None),
    )
