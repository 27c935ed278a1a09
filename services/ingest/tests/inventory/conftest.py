"""AWS for inventory tests: moto's server on loopback, and a helper that seeds an account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cloudaudit.common.testing_aws import REGION, SeededAccount, moto_session, reset_moto
from cloudaudit.ingest.settings import IngestSettings


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    yield from moto_session()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeededAccount]:
    """A fresh moto account; ingest's own credentials point at it."""
    reset_moto(moto_url)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    yield SeededAccount(moto_url)


def inventory_settings(
    settings: Any, moto_url: str, accounts: list[dict[str, Any]], **overrides: Any
) -> IngestSettings:
    return IngestSettings(
        DATABASE_URL=settings.database_url.get_secret_value(),
        NATS_URL=settings.nats_url_value(),
        CLOUDAUDIT_BUS_PREFIX=settings.bus_prefix,
        CLOUDAUDIT_MAX_DELIVERIES=3,
        CLOUDAUDIT_STATE_DIR=str(settings.state_dir),
        AWS_ENDPOINT_URL=moto_url,
        INGEST_INVENTORY_ACCOUNTS=json.dumps(accounts),
        INGEST_INVENTORY_AWS_MAX_ATTEMPTS=2,
        **overrides,
    )


@pytest.fixture
def make_inventory_settings(settings, moto_url):
    def make(accounts: list[dict[str, Any]], **overrides: Any) -> IngestSettings:
        return inventory_settings(settings, moto_url, accounts, **overrides)

    return make


@pytest.fixture
def start(start_service):
    """start_service, then a round trip to NATS so its subscriptions are live before requests."""

    async def go(name: str, settings: Any = None):
        runtime = await start_service(name, settings)
        await runtime.broker.config.connection_state.connection.flush()
        return runtime

    return go
