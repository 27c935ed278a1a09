"""ingest.v1.rpc.resource_costs over real NATS + PostgreSQL: a CUR file imported with the ingest
import, then per-resource cost, hours, effective rates and Savings Plan coverage, exact."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

from cloudaudit.common import clock
from cloudaudit.common.bus import rpc
from cloudaudit.common.events.inventory import (
    RPC_RESOURCE_COSTS,
    ResourceCostsReply,
    ResourceCostsRequest,
)
from cloudaudit.common.testing_aws import CostReportFile, CurLine, last_days
from cloudaudit.ingest.service.imports import import_costs

D = Decimal
AWS_ACCOUNT = "210987654321"


async def ask(bus, team_id, **fields) -> ResourceCostsReply:
    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_RESOURCE_COSTS,
        ResourceCostsRequest(team_id=team_id, aws_account_id=AWS_ACCOUNT, **fields),
        ResourceCostsReply,
        timeout=60,
    )
    assert reply.ok, reply.error
    return reply


def report_file(tmp_path):
    days = last_days(14)
    report = CostReportFile(AWS_ACCOUNT)
    report.instance_hours("i-ondemand", "m5.large", D("0.0864"), days)
    report.instance_hours(
        "i-covered", "m5.xlarge", D("0.192"), days, covered_by_savings_plan=D("0.14")
    )
    report.instance_hours("i-new", "t3.medium", D("0.0416"), days[-3:])
    report.volume_storage("vol-1", "gp2", 100, D("0.08"), days)
    report.daily(
        f"arn:aws:ec2:us-east-1:{AWS_ACCOUNT}:snapshot/snap-1",
        "USE1-EBS:SnapshotUsage",
        D("0.02"),
        days,
    )
    # A tax line on the instance is not its running cost; an older day is outside the window.
    report.lines.append(CurLine(days[0], "Tax", "", "i-ondemand", D(0), D("5.00")))
    report.instance_hours("i-ondemand", "m5.large", D("9.99"), [days[0] - timedelta(days=1)])
    return report.write(tmp_path / "cur.csv")


async def test_each_resource_gets_its_cost_hours_and_effective_rate_from_the_report(
    deps, bus, tmp_path
):
    team_id = uuid4()
    await import_costs(deps, team_id, [str(report_file(tmp_path))])

    reply = await ask(bus, team_id, window_days=14)

    today = clock.today()
    assert (reply.window_start, reply.window_end) == (today - timedelta(days=14), today)
    costs = {r.resource_id: r for r in reply.resources}
    assert set(costs) == {"i-ondemand", "i-covered", "i-new", "vol-1", "snap-1"}
    on_demand = costs["i-ondemand"]
    assert on_demand.cost == D("29.0304")  # 0.0864 x 24 h x 14 days; the tax line left out
    assert on_demand.compute_hours == 336 and on_demand.hourly_rate == D("0.0864")
    assert on_demand.days_with_cost == 14 and on_demand.covered_hours == 0
    assert on_demand.on_demand_compute_cost == D("29.0304")
    covered = costs["i-covered"]
    # Savings Plan covered: the effective (amortized) cost, every hour covered.
    assert covered.cost == D("47.04") and covered.hourly_rate == D("0.14")
    assert covered.covered_hours == 336 and covered.on_demand_compute_cost == 0
    assert costs["i-new"].days_with_cost == 3 and costs["i-new"].compute_hours == 72
    volume = costs["vol-1"]
    assert volume.gb_month_rate == D("0.08") and volume.hourly_rate is None
    assert volume.storage_gb_months == D("3.2876712") * 14  # 100 GiB x 24/730 a day
    assert costs["snap-1"].cost == D("0.28") and costs["snap-1"].days_with_cost == 14
    coverage = reply.coverage
    assert coverage is not None and coverage.known
    assert coverage.covered_cost_at_on_demand == D("64.512")  # 0.192 x 336 at on-demand
    assert coverage.on_demand_cost == D("32.0256")  # 29.0304 + 0.0416 x 72
    assert coverage.covered_hours == 336 and coverage.on_demand_hours == 408
    assert coverage.coverage_percent == D("66.8")  # 64.512 / 96.5376


async def test_pages_by_resource_id_and_filters_by_id_and_team(deps, bus, tmp_path):
    team_id = uuid4()
    await import_costs(deps, team_id, [str(report_file(tmp_path))])

    seen, after, pages = [], None, []
    while True:
        page = await ask(bus, team_id, limit=2, after=after)
        pages.append(page)
        seen += [r.resource_id for r in page.resources]
        after = page.next_after
        if after is None:
            break

    assert seen == sorted({"i-ondemand", "i-covered", "i-new", "vol-1", "snap-1"})
    assert [len(p.resources) for p in pages] == [2, 2, 1]
    assert pages[0].coverage is not None and all(p.coverage is None for p in pages[1:])
    only = await ask(bus, team_id, resource_ids=["vol-1", "i-missing"])
    assert [r.resource_id for r in only.resources] == ["vol-1"]
    other_team = await ask(bus, uuid4())
    assert other_team.resources == [] and other_team.window_start is None
