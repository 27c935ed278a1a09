"""A running ingest service and the same service functions the CLI uses, on the test database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from cloudaudit.ingest.domain.spend import Dimension, Metric, SpendQuery
from cloudaudit.ingest.entrypoints.app import ingest_deps
from cloudaudit.ingest.service import spend
from cloudaudit.ingest.service.deps import IngestDeps


@pytest.fixture
async def service(start_service, ingest_settings):
    return await start_service("ingest", ingest_settings)


@pytest.fixture
def deps(service, ingest_settings) -> IngestDeps:
    """The service's own database and outbox publisher, as the CLI and handlers use them."""
    return ingest_deps(ingest_settings, service.engine, publisher=service.publish_outboxed)


async def spent(
    deps: IngestDeps,
    team_id: UUID,
    start: date,
    end: date,
    by: Dimension,
    metric: Metric = Metric.UNBLENDED,
    tag_key: str | None = None,
    accounts: tuple[UUID, ...] | None = None,
) -> dict[str, Decimal]:
    answer = await spend.spend(
        deps,
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
