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
from datetime import date
from uuid import UUID, uuid4

import boto3
from cloudaudit.common.testing import eventually
from cloudaudit.demo.company import ResourceIds, Scenario, cur_files, daily_totals

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
    assert statuses == {"succeeded": 2, "running": 1}  # the killed one stays visible


_IMPORTS = "SELECT status FROM ingest.imports WHERE team_id = $1 ORDER BY started_at"
_COUNT = "SELECT count(*) FROM ingest.cost_data WHERE team_id = $1"


def _items(scenario, ids):
    from cloudaudit.demo.company import line_items

    return line_items(scenario, ids)
