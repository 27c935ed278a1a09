"""A running ingest service and the same service functions the CLI uses, on the test database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from cloudaudit.ingest.adapters.aws import AwsGateway
from cloudaudit.ingest.adapters.orm import outbox
from cloudaudit.ingest.domain.spend import Dimension, Metric, SpendQuery
from cloudaudit.ingest.service import spend
from cloudaudit.ingest.service.context import Ingest


@pytest.fixture
async def service(start_service, ingest_settings):
    return await start_service("ingest", ingest_settings)


@pytest.fixture
def ctx(service, ingest_settings) -> Ingest:
    """The service's own database and outbox publisher, as the CLI and handlers use them."""
    return Ingest(
        settings=ingest_settings,
        engine=service.engine,
        sessions=service.sessions,
        aws=AwsGateway(ingest_settings),
        outbox=outbox,
        publisher=service.publish_outboxed,
    )


async def spent(
    ctx: Ingest,
    team_id: UUID,
    start: date,
    end: date,
    by: Dimension,
    metric: Metric = Metric.UNBLENDED,
    tag_key: str | None = None,
    accounts: tuple[UUID, ...] | None = None,
) -> dict[str, Decimal]:
    answer = await spend.spend(
        ctx,
        SpendQuery(
            team_id=team_id,
            start=start,
            end=end,
            dimension=by,
            metric=metric,
            tag_key=tag_key,
            account_ids=accounts,
        ),
    )
    rows = {row.key: row.amount for row in answer.rows}
    assert answer.total == sum(rows.values(), Decimal(0))
    return rows
