"""Spend answers: one code path for the bus (the bot) and the CLI."""

from __future__ import annotations

from decimal import Decimal

from cloudaudit.common.events.base import RpcError
from cloudaudit.common.events.cost import (
    Granularity,
    SpendGroup,
    SpendGroupBy,
    SpendPoint,
    SpendReply,
    SpendRequest,
)
from cloudaudit.ingest.adapters.spend_store import spend_rows
from cloudaudit.ingest.domain.errors import IngestError, InvalidInput
from cloudaudit.ingest.domain.spend import (
    Dimension,
    Metric,
    Points,
    SpendAnswer,
    SpendQuery,
    check_range,
    rank,
)
from cloudaudit.ingest.service.context import Ingest
from cloudaudit.ingest.service.summaries import plain


async def spend(ctx: Ingest, query: SpendQuery) -> SpendAnswer:
    check_range(query.start, query.end)
    if query.dimension is Dimension.TAG and not query.tag_key:
        raise InvalidInput("grouping by tag needs the tag key, e.g. tag:Environment")
    async with ctx.sessions() as session:
        rows = await spend_rows(session, query)
    total = sum((r.amount for r in rows), Decimal(0))
    return SpendAnswer(query=query, total=total, rows=rank(rows, query.dimension, query.top))


def query_from_request(request: SpendRequest) -> SpendQuery:
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
        team_id=request.team_id,
        start=request.start,
        end=request.end,
        dimension=dimension,
        tag_key=request.tag_key,
        metric=Metric(request.metric.value),
        account_ids=tuple(request.account_ids) if request.account_ids else None,
        top=request.top,
        points=points,
    )


async def spend_rpc(ctx: Ingest, request: SpendRequest) -> SpendReply:
    try:
        answer = await spend(ctx, query_from_request(request))
    except IngestError as exc:
        return SpendReply(ok=False, error=RpcError(code=exc.code, message=exc.message))
    return SpendReply(
        total=plain(answer.total),
        start=request.start,
        end=request.end,
        metric=request.metric,
        groups=[
            SpendGroup(
                key=row.key,
                total=plain(row.amount),
                points=[
                    SpendPoint(period=p, amount=plain(a)) for p, a in sorted(row.points.items())
                ],
            )
            for row in answer.rows
        ],
    )
