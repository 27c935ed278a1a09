"""Spend answers: one code path for the bus (the bot) and the CLI."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from cloudaudit.common.actors import Command, authorize, require_owner_team
from cloudaudit.common.events.cost import (
    Granularity,
    SpendGroup,
    SpendGroupBy,
    SpendPoint,
    SpendReply,
    SpendRequest,
)
from cloudaudit.common.events.identity import Action
from cloudaudit.ingest.domain.errors import InvalidInput
from cloudaudit.ingest.domain.spend import (
    Dimension,
    Metric,
    Points,
    SpendAnswer,
    SpendQuery,
    SpendRow,
    check_range,
    plain,
    rank,
    total_of,
)
from cloudaudit.ingest.service.deps import IngestDeps


async def spend(deps: IngestDeps, query: SpendQuery) -> SpendAnswer:
    check_range(query.start, query.end)
    if query.dimension is Dimension.TAG and not query.tag_key:
        raise InvalidInput("grouping by tag needs the tag key, e.g. tag:Environment")
    async with deps.uow() as uow:
        if query.dimension is Dimension.TAG:
            known_tag_key(query, await uow.costs.tag_keys(query.team_id, query.start, query.end))
        rows = await uow.costs.spend_rows(query)
    return SpendAnswer(
        query=query,
        total=total_of(rows),
        rows=rank(rows, query.dimension, query.top),
        estimated=any(r.estimated for r in rows),
    )


SHOWN_TAG_KEYS = 15


def known_tag_key(query: SpendQuery, keys: list[str]) -> None:
    """Grouping by a key no cost carries would answer one "(untagged)" line: say which keys
    there are instead."""
    wanted = (query.tag_key or "").lower().removeprefix("user:").removeprefix("user_")
    if any(key.lower() == wanted for key in keys):
        return
    period = f"{query.start.isoformat()} to {query.end.isoformat()}"
    if not keys:
        raise InvalidInput(
            f"no cost from {period} carries a tag: activate cost allocation tags in the AWS "
            "Billing console; they appear in the next cost report or sync"
        )
    shown = ", ".join(keys[:SHOWN_TAG_KEYS]) + (", …" if len(keys) > SHOWN_TAG_KEYS else "")
    raise InvalidInput(
        f"no cost from {period} has the tag key '{query.tag_key}'; the keys there are: {shown}"
    )


def query_from_request(request: SpendRequest, team_id: UUID) -> SpendQuery:
    points = {
        Granularity.DAILY: Points.DAILY,
        Granularity.MONTHLY: Points.MONTHLY,
        Granularity.NONE: None,
    }[request.granularity]
    dimension = (
        Dimension.NONE
        if request.group_by is SpendGroupBy.NONE
        else Dimension(request.group_by.value)
    )
    return SpendQuery(
        team_id=team_id,
        start=request.start,
        end=request.end,
        dimension=dimension,
        tag_key=request.tag_key,
        metric=Metric(request.metric.value),
        account_ids=tuple(request.account_ids) if request.account_ids else None,
        top=request.top,
        points=points,
    )


async def spend_rpc(deps: IngestDeps, cmd: Command[SpendRequest]) -> SpendReply:
    """Spend of the actor's team; accounts named in the request must be the team's own."""
    request, actor = cmd.request, cmd.actor
    async with deps.uow() as uow:
        await authorize(uow, actor, Action.READ_SPEND, source="ingest")
        if request.account_ids:
            own = {row.account_id for row in await uow.repo.accounts_of_team(actor.team_id)}
            for account_id in request.account_ids:
                require_owner_team(
                    actor, actor.team_id if account_id in own else None, "account", account_id
                )
    answer = await spend(deps, query_from_request(request, actor.team_id))
    return SpendReply(
        total=plain(answer.total) or Decimal(0),
        not_available=answer.total is None,
        estimated=answer.estimated,
        start=request.start,
        end=request.end,
        metric=request.metric,
        groups=[_group(row) for row in answer.rows],
    )


def _group(row: SpendRow) -> SpendGroup:
    """A group on the bus: "not available" is a flag (the total field holds a number)."""
    return SpendGroup(
        key=row.key,
        total=plain(row.amount) or Decimal(0),
        not_available=row.amount is None,
        estimated=row.estimated,
        points=[
            SpendPoint(period=p, amount=plain(a))
            for p, a in sorted(row.points.items())
            if a is not None
        ],
    )
