"""A running ingest service and the same service functions the CLI uses, on the test database."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from cloudaudit.common import cli as root_cli
from cloudaudit.ingest.domain.spend import Dimension, Metric, SpendQuery
from cloudaudit.ingest.entrypoints.app import ingest_deps
from cloudaudit.ingest.service import spend
from cloudaudit.ingest.service.deps import IngestDeps
from typer.testing import CliRunner


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
    known = [amount for amount in rows.values() if amount is not None]
    assert answer.total == (sum(known, Decimal(0)) if known or not rows else None)
    return rows


_registered = threading.Lock()
_done: list[bool] = []


def cloudaudit_app():
    with _registered:
        if not _done:
            root_cli._register_service_commands()
            _done.append(True)
    return root_cli.app


@pytest.fixture
def run_cli(ingest_settings):
    """`cloudaudit ...` in-process (its own event loop, in a thread), against the test servers;
    `color=True` keeps the colours a terminal would show."""
    env = {
        "DATABASE_URL": ingest_settings.database_url.get_secret_value(),
        "NATS_URL": ingest_settings.nats_url_value(),
        "AWS_ENDPOINT_URL": ingest_settings.aws_endpoint_url,
        "AWS_ACCESS_KEY_ID": ingest_settings.aws_access_key_id.get_secret_value(),
        "AWS_SECRET_ACCESS_KEY": ingest_settings.aws_secret_access_key.get_secret_value(),
        "AWS_REGION": ingest_settings.aws_region,
        "CLOUDAUDIT_LOG_FORMAT": "json",
        "INGEST_SCHEDULER": "false",
    }

    async def run(*args: str, color: bool = False):
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            return await asyncio.to_thread(
                CliRunner().invoke, cloudaudit_app(), list(args), env=env, color=color
            )
        finally:
            # The command installs its log handler on the runner's (now closed) stream.
            root.handlers[:] = handlers
            root.setLevel(level)

    return run
