"""Digests: at each team's hour (its time zone), post yesterday's or last week's spend once."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from decimal import Decimal

from cloudaudit.bot.adapters.repository import TeamSlack
from cloudaudit.bot.domain.digest import DigestPeriod, due_period, split_totals, top_movers
from cloudaudit.bot.domain.errors import BotError
from cloudaudit.bot.service import posting
from cloudaudit.bot.service.deps import Deps
from cloudaudit.bot.views import digest as digest_views
from cloudaudit.common.events.anomaly import AnomaliesRequest, AnomalyStatus
from cloudaudit.common.events.cost import Granularity, SpendGroupBy, SpendRequest
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.events.recommendation import RecommendationsRequest, RecommendationStatus

log = logging.getLogger(__name__)

DIGEST_NAMESPACE = uuid.UUID("5f0c7a52-3f7e-4f0e-9a55-1d4a8f8c2b11")


def digest_event_id(team: TeamSlack, period: DigestPeriod) -> uuid.UUID:
    """Stable id per team and period: the exactly-once key of the digest post."""
    return uuid.uuid5(DIGEST_NAMESPACE, f"{team.team_id}:{period.key}")


async def build_digest(
    deps: Deps, team: TeamSlack, period: DigestPeriod
) -> tuple[str, list[dict[str, object]]]:
    tokens = await deps.platform.team_tokens(team.team_id)
    spend = await deps.platform.spend(
        SpendRequest(
            actor_token=tokens[Audience.INGEST],
            start=period.previous_start,
            end=period.end,
            group_by=SpendGroupBy.SERVICE,
            granularity=Granularity.DAILY,
            top=50,
        )
    )
    current, previous = split_totals(spend.groups, period.start)
    total = sum(current.values(), Decimal(0))
    previous_total = sum(previous.values(), Decimal(0))
    anomalies = await deps.platform.anomalies(
        AnomaliesRequest(
            actor_token=tokens[Audience.ANALYTICS], status=AnomalyStatus.OPEN, limit=50
        )
    )
    recs = await deps.platform.recommendations(
        RecommendationsRequest(
            actor_token=tokens[Audience.ANALYTICS], status=RecommendationStatus.OPEN, limit=50
        )
    )
    text = digest_views.digest_text(team.digest, period, total)
    blocks = digest_views.digest_message(
        team.digest,
        period,
        total,
        previous_total,
        top_movers(current, previous),
        anomalies.anomalies,
        recs.recommendations,
    )
    return text, blocks


async def send_digest(deps: Deps, team: TeamSlack, period: DigestPeriod) -> bool:
    text, blocks = await build_digest(deps, team, period)
    event_id = digest_event_id(team, period)
    async with deps.uow() as uow:
        locked = await uow.repo.team(team.team_id, lock=True)
        if locked is None or locked.last_digest_key == period.key:
            return False
        intent = await posting.intend_post(
            deps, uow, locked, event_id, team.team_id, "digest", period.key, "digest", text, blocks
        )
        if not intent.pending:  # posted before, or kept: this period is done
            await uow.repo.mark_digest(team.team_id, period.key)
        await uow.commit()
    if not intent.pending:
        return True
    async with deps.uow() as uow:
        # The team first, as the intent took it: a tick on another replica waits here.
        locked = await uow.repo.team(team.team_id, lock=True)
        if locked is None:
            return False
        await posting.deliver(deps, uow, locked, intent)
        await uow.repo.mark_digest(team.team_id, period.key)
        await uow.commit()
    return True


async def send_due_digests(deps: Deps, now: datetime) -> int:
    async with deps.uow() as uow:
        teams = await uow.repo.teams_with_digest()
    sent = 0
    for team in teams:
        period = due_period(
            team.digest, team.digest_hour, team.time_zone, now, team.last_digest_key
        )
        if period is None:
            continue
        try:
            sent += await send_digest(deps, team, period)
        except BotError as exc:  # a service down: the next tick tries again
            log.warning(
                "digest deferred", extra={"team_id": str(team.team_id), "error": exc.message}
            )
    return sent
