"""The attacker's view of CloudAudit: a raw nats-py client on the bus the services use.

The real identity, ingest and analytics services run in-process on the session's real NATS and
PostgreSQL (AWS is moto on loopback). The attacker is any process that reaches NATS: it sends
hand-written JSON (never our request models), so each test replays exactly what an attacker
would send, including the old message shapes that named the actor in the body.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from cloudaudit.common.bus import BusNames
from cloudaudit.common.clock import utcnow
from cloudaudit.common.testing_aws import moto_session

sys.path.insert(0, str(Path(__file__).parent))  # attack_support, shared by the test modules

from attack_support import Attacker, Database, Victim, enrol


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    yield from moto_session()


@pytest.fixture
def db(database_url: str) -> Database:
    return Database(database_url)


@pytest_asyncio.fixture(loop_scope="session")
async def services(start_service, settings, moto_url) -> None:
    from cloudaudit.ingest.settings import IngestSettings

    await start_service("identity")
    ingest = IngestSettings(  # type: ignore[call-arg]
        DATABASE_URL=settings.database_url.get_secret_value(),
        NATS_URL=settings.nats_url_value(),
        CLOUDAUDIT_BUS_PREFIX=settings.bus_prefix,
        CLOUDAUDIT_STATE_DIR=str(settings.state_dir),
        AWS_ENDPOINT_URL=moto_url,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        INGEST_SCHEDULER=False,
    )
    await start_service("ingest", ingest)
    analytics = await start_service("analytics")
    await analytics.broker.config.connection_state.connection.flush()


@pytest_asyncio.fixture(loop_scope="session")
async def attacker(services, settings, infrastructure) -> AsyncIterator[Attacker]:
    nc = await nats.connect(infrastructure.nats_url)
    yield Attacker(nc, BusNames(settings.bus_prefix))
    await nc.close()


@pytest_asyncio.fixture(loop_scope="session")
async def victim(attacker: Attacker, db: Database) -> Victim:
    owner = await enrol(attacker, "T-VICTIM", "U-VICTIM-OWNER")
    member = await enrol(attacker, "T-VICTIM", "U-VICTIM-MEMBER", invited_by=owner)
    team, now = owner.team_id, utcnow()
    account_id, anomaly_id, rec_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await db.execute(
        "INSERT INTO ingest.team_settings (team_id, external_id, tag_keys, created_at) "
        "VALUES ($1, $2, '[]', $3)",
        team,
        "ca-victim-external-id-7f3a9c",
        now,
    )
    await db.execute(
        "INSERT INTO ingest.aws_accounts (account_id, team_id, aws_account_id, account_name, "
        "role_arn, status, created_at, updated_at) VALUES ($1, $2, '111122223333', 'prod', "
        "'arn:aws:iam::111122223333:role/CloudAuditReadOnly', 'connected', $3, $3)",
        account_id,
        team,
        now,
    )
    await db.execute(
        "INSERT INTO analytics.cost_anomalies (anomaly_id, team_id, account_id, aws_account_id, "
        "series_key, service, usage_date, detected_at, kind, severity, status, expected_cost, "
        "actual_cost, impact, deviation_pct, root_cause, episode_start, model_version, alerted, "
        "updated_at) VALUES ($1, $2, $3, '111122223333', 'k', 'AmazonEC2', $4, $5, 'spike', "
        "'high', 'open', 300, 1100, 800, 266, '[]', $4, 1, 1, $5)",
        anomaly_id,
        team,
        account_id,
        date(2026, 11, 20),
        now,
    )
    await db.execute(
        "INSERT INTO analytics.recommendations (recommendation_id, team_id, account_id, "
        "aws_account_id, resource_id, resource_type, region, type, title, description, action, "
        "estimated_monthly_savings, confidence_score, status, baseline_monthly_cost, fact_sheet, "
        "details, text_hash, text_source, created_at, updated_at, last_seen_at) VALUES ($1, $2, "
        "$3, '111122223333', 'i-0idle', 'ec2_instance', 'us-east-1', 'idle_ec2', 'Stop idle', "
        "'idle', 'stop it', 70.08, 0.9, 0, 70.08, '{}', '{}', 'h', 'template', $4, $4, $4)",
        rec_id,
        team,
        account_id,
        now,
    )
    return Victim(owner, member, account_id, anomaly_id, rec_id)
