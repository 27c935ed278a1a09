"""Crash safety: kill -9 a service (or the import command) in the middle of its work, start it
again, and check what an operator would: every cost row, anomaly and Slack post exists once.

All four services run as separate processes on real NATS + PostgreSQL (one ProductStack for the
module); AWS is the moto server with the simulated company, Slack the local Web API.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import boto3
from cloudaudit.common.bus import publish_event
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.anomaly import (
    ANOMALY_DETECTED,
)
from cloudaudit.common.events.cost import COST_DAY_RECORDED
from cloudaudit.common.testing import eventually
from cloudaudit.demo.company import EC2_SERVICE, ResourceIds, Scenario, cur_files, daily_totals

from .conftest import anomaly_event, cost_day

CRASH_BUCKET = "reliability-crash-exports"
CRASH_PREFIX = "cur/crash/data"


def _import_command(team_id: UUID, location: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cloudaudit.common",
        "import-costs",
        location,
        "--team",
        str(team_id),
        "--format",
        "json",
    ]


def _upload(product, files: dict[str, bytes], bucket: str = CRASH_BUCKET) -> None:
    """Put cost files where CloudAudit's own principal can read them (a bucket it was granted)."""
    env = product.env()
    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


async def test_import_killed_mid_load_then_rerun_stores_every_row_exactly_once(product):
    # A year of two accounts with a large fleet: ~20k CUR rows, long enough to be caught loading.
    scenario = Scenario(end=date(2026, 1, 1), days=365)
    ids = ResourceIds(web=tuple(f"i-0crashweb{n:07d}" for n in range(40)))
    files = {
        key.replace("cur/cloudaudit-demo/data", CRASH_PREFIX): body
        for key, body in cur_files(scenario, ids).items()
    }
    await asyncio.to_thread(_upload, product, files)
    expected = daily_totals(scenario, ids)
    team_id = uuid4()
    location = f"s3://{CRASH_BUCKET}/{CRASH_PREFIX}"

    first = await asyncio.create_subprocess_exec(
        *_import_command(team_id, location),
        env=product.env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:

        async def loading() -> bool:
            # the import's rows are being COPYed into cost_data right now
            return bool(
                await product.value(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query ILIKE 'COPY%cost_data%'"
                )
            )

        await eventually(loading, timeout=60, interval=0.01)
        os.kill(first.pid, signal.SIGKILL)
    finally:
        await asyncio.wait_for(first.wait(), 10)
    assert first.returncode == -signal.SIGKILL

    # What the operator sees: the import never finished, and none of its rows are visible.
    async def rolled_back() -> bool:
        return not await product.value(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query ILIKE 'COPY%cost_data%'"
        )

    await eventually(rolled_back, timeout=15)
    statuses = [r["status"] for r in await product.rows(_IMPORTS, team_id)]
    assert statuses == ["running"]
    assert await product.value(_COUNT, team_id) == 0

    # Run it again, twice: each run replaces the billing periods it covers.
    for _ in range(2):
        result = await asyncio.to_thread(
            subprocess.run,
            _import_command(team_id, location),
            env=product.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(result.stdout)
        assert report["rows_rejected"] == 0

    line_items = sum(1 for _ in _items(scenario, ids))
    assert report["rows_loaded"] == line_items
    assert await product.value(_COUNT, team_id) == line_items
    stored = {
        (r["aws_account_id"], r["usage_date"], r["product_code"]): r["cost"]
        for r in await product.rows(
            "SELECT aws_account_id, usage_date, product_code, sum(unblended_cost) AS cost "
            "FROM ingest.cost_data WHERE team_id = $1 GROUP BY 1, 2, 3",
            team_id,
        )
    }
    assert stored == expected
    statuses = Counter(r["status"] for r in await product.rows(_IMPORTS, team_id))
    assert statuses == {"succeeded": 2, "interrupted": 1}  # the killed one, labelled by the re-run


_IMPORTS = "SELECT status FROM ingest.imports WHERE team_id = $1 ORDER BY started_at"
_COUNT = "SELECT count(*) FROM ingest.cost_data WHERE team_id = $1"


def _items(scenario, ids):
    from cloudaudit.demo.company import line_items

    return line_items(scenario, ids)


# -- analytics and the bot killed mid-stream --------------------------------------------------
ALERTS = "CRELIABILITY"
OWNER = "URELOWNER"


def posted_anomaly_ids(slack, channel: str) -> Counter[str]:
    """How many times each anomaly's alert was posted in the channel (the block id names it)."""
    posted: Counter[str] = Counter()
    for message in slack.channel_messages(channel):
        for block in message.blocks:
            block_id = block.get("block_id", "")
            if block_id.startswith("anomaly:"):
                posted[block_id.removeprefix("anomaly:")] += 1
                break
    return posted


async def test_analytics_and_bot_killed_mid_stream_lose_and_repeat_nothing(
    product, product_bus, slack_driver
):
    """kill -9 analytics while it learns a stream of cost days, and the bot while it posts a
    burst of alerts; after the restart every day is recorded once, every anomaly exists once
    and every alert is in the channel exactly once (JetStream redelivers what was in flight)."""
    # a workspace of its own: the stack is shared with other tests, so its owner is ours
    product.slack.add_workspace("T0CRASH", "Crash Co", "xoxb-crash-workspace")
    owner = product.driver(team_id="T0CRASH")
    try:
        team_id = await product.alerts_here(owner, OWNER, ALERTS, "T0CRASH")
    finally:
        await owner.close()
    today = utcnow().date()
    accounts = [(uuid4(), f"5{n:011d}") for n in range(4)]
    days = 90
    cost_events = [
        cost_day(team_id, account_id, aws_id, today - timedelta(days=offset))
        for offset in range(days, 0, -1)
        for account_id, aws_id in accounts
    ]
    # today: each account's EC2 jumps by $700 (new p4d instances) - one real anomaly each
    cost_events += [
        cost_day(team_id, account_id, aws_id, today, extra=Decimal(700))
        for account_id, aws_id in accounts
    ]
    alerts = [anomaly_event(team_id, n) for n in range(300)]

    async def publish_costs() -> None:
        for event in cost_events:
            await publish_event(
                product_bus.broker,
                product_bus.names,
                COST_DAY_RECORDED.format(aws_account_id=event.aws_account_id),
                event,
            )

    async def publish_alerts() -> None:
        for event in alerts:
            await publish_event(
                product_bus.broker,
                product_bus.names,
                ANOMALY_DETECTED.format(aws_account_id=event.aws_account_id),
                event,
            )

    async def days_recorded() -> int:
        return await product.value(
            "SELECT count(*) FROM analytics.cost_days WHERE team_id = $1", team_id
        )

    await publish_costs()

    # analytics: killed once a quarter of the days are learnt, with a batch in flight
    await eventually(lambda: _at_least(days_recorded, len(cost_events) // 4), timeout=60)
    product.kill("analytics")
    killed_at_days = await days_recorded()
    await publish_alerts()
    # the bot: killed while the burst of alerts is being posted
    await eventually(lambda: _posted_at_least(product.slack, 15), timeout=60, interval=0.01)
    product.kill("bot")
    killed_at_posts = sum(posted_anomaly_ids(product.slack, ALERTS).values())
    assert killed_at_days < len(cost_events) and killed_at_posts < len(alerts)

    await asyncio.gather(product.restart("analytics"), product.restart("bot"))

    # in-flight messages come back when their ack wait (60 s) runs out
    await eventually(lambda: _at_least(days_recorded, len(cost_events)), timeout=120)
    wanted = {str(a.anomaly_id) for a in alerts}

    async def all_alerts_posted() -> bool:
        return wanted <= set(posted_anomaly_ids(product.slack, ALERTS))

    await eventually(all_alerts_posted, timeout=120, interval=0.2)

    # every day once, each account's jump detected once, and alerted once in the channel
    assert await days_recorded() == len(cost_events)
    anomalies = await product.rows(
        "SELECT anomaly_id, account_id, service, usage_date, alerted "
        "FROM analytics.cost_anomalies WHERE team_id = $1",
        team_id,
    )
    ec2 = [a for a in anomalies if a["service"] == EC2_SERVICE and a["alerted"]]
    assert sorted(a["account_id"] for a in ec2) == sorted(a for a, _ in accounts)
    assert all(a["usage_date"] == today for a in ec2)
    wanted |= {str(a["anomaly_id"]) for a in ec2}

    async def detector_alerts_posted() -> bool:
        return wanted <= set(posted_anomaly_ids(product.slack, ALERTS))

    await eventually(detector_alerts_posted, timeout=30, interval=0.2)
    posted = posted_anomaly_ids(product.slack, ALERTS)
    duplicates = {k: n for k, n in posted.items() if n > 1}
    assert set(posted) == wanted
    # a post cut short by the kill is found by its metadata and adopted, never posted again
    assert duplicates == {}, f"alerts posted twice after the bot was killed mid-post: {duplicates}"

    # the bot's own record agrees with the channel: every alert posted, with the ts of its
    # one message (an adopted post included)
    ts_in_channel = _alert_ts(product.slack, ALERTS)

    async def recorded() -> bool:
        rows = await product.rows(
            "SELECT subject_id, status, ts FROM bot.posted_messages "
            "WHERE team_id = $1 AND kind = 'alert'",
            team_id,
        )
        posted_refs = {r["subject_id"]: r["ts"] for r in rows if r["status"] == "posted"}
        return set(posted_refs) >= wanted and all(
            posted_refs[k] == ts_in_channel[k] for k in wanted
        )

    await eventually(recorded, timeout=60)

    # the detector's state continued across the crash: every day was learnt exactly once
    states = await product.rows(
        "SELECT account_id, state FROM analytics.detector_states "
        "WHERE team_id = $1 AND service = $2",
        team_id,
        EC2_SERVICE,
    )
    learnt = {r["account_id"]: json.loads(r["state"])["detector"]["steps_seen"] for r in states}
    # days in flight at the kill come back after the ack wait, behind later days: replayed
    assert learnt == {account_id: days + 1 for account_id, _ in accounts}


def _alert_ts(slack, channel: str) -> dict[str, str]:
    """The ts of each anomaly's alert message in the channel."""
    found: dict[str, str] = {}
    for message in slack.channel_messages(channel):
        for block in message.blocks:
            block_id = block.get("block_id", "")
            if block_id.startswith("anomaly:"):
                found[block_id.removeprefix("anomaly:")] = message.ts
                break
    return found


async def _at_least(count, wanted: int) -> bool:
    return await count() >= wanted


async def _posted_at_least(slack, wanted: int) -> bool:
    return sum(posted_anomaly_ids(slack, ALERTS).values()) >= wanted
