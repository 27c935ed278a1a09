"""Team configuration from Slack: alert channel, digests, planned spend, thresholds, roles."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from cloudaudit.bot.domain.digest import zone
from cloudaudit.bot.domain.errors import CommandError
from cloudaudit.bot.service import posting
from cloudaudit.bot.service.answers import Answer
from cloudaudit.bot.service.deps import Actor, Deps
from cloudaudit.bot.service.posting import audit
from cloudaudit.bot.views import team as team_views
from cloudaudit.bot.views.common import section
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.anomaly import ExpectSpendRequest, TeamSettingsRequest
from cloudaudit.common.events.identity import Audience, ChangeRoleRequest, Role


async def alerts_here(actor: Actor, deps: Deps) -> Answer:
    """This channel gets the team's alerts; alerts kept while there was none are posted now."""
    if not actor.channel_id:
        raise CommandError("run `/cloudaudit alerts here` in the channel that should get alerts")
    if actor.channel_id.startswith("D"):
        raise CommandError(
            "alerts go to a channel the whole team can see; run this in one "
            "(and invite @CloudAudit there)"
        )
    async with deps.uow() as uow:
        await uow.repo.set_alert_channel(actor.team_id, actor.channel_id)
        await audit(
            uow,
            actor.team_id,
            actor.user_id,
            "alerts.channel_set",
            "team",
            str(actor.team_id),
            channel_id=actor.channel_id,
        )
        await uow.commit()
    reposted = await posting.deliver_kept_alerts(deps, actor.team_id)
    return Answer(
        text=f"Alerts now go to <#{actor.channel_id}>",
        in_channel=True,
        blocks=team_views.alerts_here(actor.channel_id, reposted),
    )


async def alerts_digest(actor: Actor, deps: Deps, frequency: str, hour: int | None) -> Answer:
    time_zone = zone(actor.time_zone).key
    async with deps.uow() as uow:
        team = await uow.repo.team(actor.team_id, lock=True)
        chosen = (
            hour
            if hour is not None
            else (team.digest_hour if team and team.digest != "off" else deps.settings.digest_hour)
        )
        await uow.repo.set_digest(actor.team_id, frequency, chosen, time_zone)
        await audit(
            uow,
            actor.team_id,
            actor.user_id,
            "alerts.digest_set",
            "team",
            str(actor.team_id),
            frequency=frequency,
            hour=chosen,
            time_zone=time_zone,
        )
        await uow.commit()
    blocks = team_views.digest_set(frequency, chosen, time_zone)
    if frequency != "off" and not (team and team.alert_channel_id):
        blocks.append(section("Set the channel with `/cloudaudit alerts here` first."))
    return Answer(text=f"Digest: {frequency}", blocks=blocks, in_channel=True)


async def expect(actor: Actor, deps: Deps, service: str, amount: Decimal, days: int) -> Answer:
    start = utcnow().astimezone(zone(actor.time_zone)).date()
    end = start + timedelta(days=days)
    # analytics authorizes and audits the plan; the bot changes nothing of its own here
    await deps.platform.expect(
        ExpectSpendRequest(
            actor_token=actor.token(Audience.ANALYTICS),
            service=service,
            amount=amount,
            start=start,
            end=end,
        )
    )
    return Answer(
        text=f"Planned spend noted for {service}",
        in_channel=True,
        blocks=team_views.expectation_recorded(service, amount, days),
    )


async def change_thresholds(
    actor: Actor, deps: Deps, min_impact: Decimal | None, min_impact_pct: Decimal | None
) -> Answer:
    # analytics authorizes and audits the change
    reply = await deps.platform.team_settings(
        TeamSettingsRequest(
            actor_token=actor.token(Audience.ANALYTICS),
            min_impact=min_impact,
            min_impact_pct=min_impact_pct,
        )
    )
    return Answer(
        text="Thresholds saved",
        blocks=team_views.settings_view(reply.min_impact, reply.min_impact_pct, can_edit=True),
    )


async def change_role(actor: Actor, deps: Deps, target_user_id: UUID, role: Role) -> Answer:
    """Identity applies its own rules (and audits the change)."""
    reply = await deps.platform.change_role(
        ChangeRoleRequest(
            actor_token=actor.token(Audience.IDENTITY), target_user_id=target_user_id, role=role
        )
    )
    return Answer(
        text="Role changed", blocks=team_views.role_changed("That member", reply.role or role)
    )
