"""Savings at the rates of the customer's own cost report: moto-made resources, a CUR file for the
same resource ids imported with `cloudaudit import-costs` into ingest's PostgreSQL, then refresh
over real NATS. Savings against hand-computed Decimal figures for both rate sources; the Savings
Plan sized on the uncovered steady spend only."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

from cloudaudit.common.bus import rpc
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.events.recommendation import (
    RPC_RECOMMENDATIONS,
    RPC_REFRESH,
    RecommendationsReply,
    RecommendationsRequest,
    RefreshReply,
    RefreshRequest,
)
from cloudaudit.common.testing import sign_actor_token
from cloudaudit.common.testing_aws import CostReportFile, last_days

D = Decimal
CLI = Path(sys.executable).with_name("cloudaudit")
REPORT = "Rate source: cost report, last 14 days"
TABLE = "Rate source: price table (AWS public on-demand price list"


async def import_report(report: CostReportFile, team_id: UUID, settings, tmp_path: Path) -> None:
    """The product's own import, as an operator runs it, into this test's database."""
    path = report.write(tmp_path / "cur.csv")
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "NATS_URL": settings.nats_url_value(),
        "CLOUDAUDIT_BUS_PREFIX": settings.bus_prefix,
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [str(CLI), "import-costs", "--team", str(team_id), "--format", "json", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["rows_rejected"] == 0


async def refreshed(bus, team_id) -> dict:
    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_REFRESH,
        RefreshRequest(
            actor_token=sign_actor_token(team_id, uuid4(), Role.OWNER, Audience.ANALYTICS)
        ),
        RefreshReply,
        timeout=120,
    )
    assert reply.ok, reply.error
    listing = await rpc(
        bus.broker,
        bus.names,
        RPC_RECOMMENDATIONS,
        RecommendationsRequest(
            actor_token=sign_actor_token(team_id, uuid4(), Role.VIEWER, Audience.ANALYTICS),
            limit=200,
        ),
        RecommendationsReply,
    )
    return {(r.rec_type, r.resource_id): r for r in listing.recommendations}


async def test_savings_use_the_cost_report_rate_and_the_price_table_without_one(
    aws, static_account, start, bus, settings, tmp_path, monkeypatch
):
    team, account = uuid4(), uuid4()
    static_account(team, account)
    # moto's own AMI snapshots make 1,300+ resources: 50 a page is dozens of inventory pages,
    # every one of which analytics must fetch to find the resources below.
    monkeypatch.setenv("INGEST_INVENTORY_PAGE_ITEMS", "50")
    idle = aws.instance("m5.large")
    aws.metrics(idle, cpu_percent=[1.0, 2.0, 1.5, 3.0], network_bytes_per_hour=1000)
    oversized = aws.instance("m5.2xlarge")
    aws.metrics(oversized, cpu_percent=[15.0, 20.0, 25.0, 18.0], network_bytes_per_hour=50e6)
    billed_volume = aws.volume(100, "gp2", days_old=20)
    listed_volume = aws.volume(100, "gp2", days_old=20)  # not in the report: price table
    source = aws.volume(50, "gp3", attach_to=oversized)
    snapshot = aws.snapshot(source, days_old=120)
    address = aws.elastic_ip()  # not in the report: price table
    days = last_days(14)
    report = CostReportFile(aws.account_id)
    report.instance_hours(idle, "m5.large", D("0.0768"), days)  # 20 % off list (EDP)
    report.instance_hours(oversized, "m5.2xlarge", D("0.3072"), days)
    report.volume_storage(billed_volume, "gp2", 100, D("0.08"), days)
    report.daily(
        f"arn:aws:ec2:us-east-1:{aws.account_id}:snapshot/{snapshot}",
        "USE1-EBS:SnapshotUsage",
        D("0.02"),  # the incremental blocks: far below 50 GiB x 0.05
        days,
    )
    await start("ingest")
    await start("analytics")
    await import_report(report, team, settings, tmp_path)

    recs = await refreshed(bus, team)

    savings = {key: r.estimated_monthly_savings for key, r in recs.items()}
    assert savings[("idle_ec2", idle)] == D("56.06")  # 0.0768 x 730
    # m5.2xlarge -> m5.xlarge at the same discount: 0.3072 x (0.192 / 0.384) = 0.1536 $/h
    assert savings[("overprovisioned_ec2", oversized)] == D("112.13")  # 0.1536 x 730
    assert savings[("unattached_ebs", billed_volume)] == D("8.00")  # 100 GiB x 0.08
    assert savings[("unattached_ebs", listed_volume)] == D("10.00")  # 100 GiB x 0.10 (table)
    assert savings[("old_snapshot", snapshot)] == D("0.61")  # 0.02 a day / 24 h x 730 h
    assert savings[("idle_eip", address)] == D("3.65")  # 0.005 x 730 (table)
    for key in [("idle_ec2", idle), ("unattached_ebs", billed_volume), ("old_snapshot", snapshot)]:
        assert REPORT in recs[key].description, recs[key].description
    for key in [("unattached_ebs", listed_volume), ("idle_eip", address)]:
        assert TABLE in recs[key].description, recs[key].description
    assert "Effective rate: $0.0768 per hour" in recs[("idle_ec2", idle)].description
    # The billed rate adds 0.05 to the confidence of the same signal: 0.76 -> 0.81.
    assert recs[("idle_ec2", idle)].confidence == D("0.81")
    assert recs[("unattached_ebs", billed_volume)].confidence == D("0.95")
    assert recs[("unattached_ebs", listed_volume)].confidence == D("0.90")


async def test_savings_plan_counts_only_steady_uncovered_on_demand_spend(
    aws, static_account, start, bus, settings, tmp_path
):
    team, account = uuid4(), uuid4()
    static_account(team, account)
    busy = [55.0, 60.0, 65.0, 70.0]
    on_demand = aws.instance("m5.2xlarge")
    covered = aws.instance("m5.xlarge")
    newcomer = aws.instance("m5.xlarge", days_old=5)  # launched inside the window
    gappy = aws.instance("m5.large")  # billed on 10 of the 14 days
    for instance in (on_demand, covered, newcomer, gappy):
        aws.metrics(instance, cpu_percent=busy, network_bytes_per_hour=50e6)
    days = last_days(14)
    report = CostReportFile(aws.account_id)
    report.instance_hours(on_demand, "m5.2xlarge", D("0.384"), days)
    report.instance_hours(covered, "m5.xlarge", D("0.192"), days, covered_by_savings_plan=D("0.14"))
    report.instance_hours(newcomer, "m5.xlarge", D("0.192"), days[-5:])
    report.instance_hours(gappy, "m5.large", D("0.096"), days[:10])
    await start("ingest")
    await start("analytics")
    await import_report(report, team, settings, tmp_path)

    recs = await refreshed(bus, team)

    plan = recs[("savings_plan", f"compute-savings-plan/{aws.account_id}")]
    # Steady: on_demand (0.384 $/h on-demand) and covered (0.14 $/h, all under the plan).
    # The newcomer and the gappy one are not steady. Uncovered 0.384 x 27 % x 730 h:
    assert plan.estimated_monthly_savings == D("75.69")
    assert "$0.28 per hour" in plan.action  # 0.384 x (1 - 0.27) = 0.28032
    # Coverage of all EC2 usage: 0.192 x 336 covered / (64.512 + 129.024 + 23.04 + 23.04)
    assert "Current Savings Plan and RI coverage (cost report, last 14 days): 26.9%" in (
        plan.description
    )
    assert "Steady compute (instances running the whole 14-day window): $0.524 per hour" in (
        plan.description
    )
    assert "Uncovered steady compute: $0.384 per hour" in plan.description
    assert "73%" in plan.description  # break-even share stated
    assert plan.confidence == D("0.70")  # 0.6 x full CloudWatch data + 0.1 measured coverage
