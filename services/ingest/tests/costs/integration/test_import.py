"""Cost report imports end to end: file -> PostgreSQL -> spend query -> cost events, with totals
computed independently from the same files."""

from __future__ import annotations

import gzip
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cloudaudit.common.actors import Actor, Command
from cloudaudit.common.events.account import ConnectAccountRequest, ExternalIdRequest
from cloudaudit.common.testing import eventually
from cloudaudit.ingest.domain.errors import CostSourceUnreadable, InvalidInput, NotACostReport
from cloudaudit.ingest.domain.spend import Dimension, Metric
from cloudaudit.ingest.service import accounts
from cloudaudit.ingest.service.imports import import_costs
from sqlalchemy import text

from ..oracle import DATA, cur2, focus, legacy, totals
from .conftest import spent

MARCH = (date(2024, 3, 1), date(2024, 4, 1))
APRIL = (date(2024, 4, 1), date(2024, 5, 1))


async def cost_events(bus) -> list[dict]:
    return [json.loads(m.data) for m in await bus.stream_messages("COST", "cost.v1.daily.>")]


async def test_legacy_cur_with_every_quirk_gives_exact_totals_by_any_dimension(deps, bus):
    team_id = uuid4()
    expected = legacy("cur_legacy_2024_03.csv")

    report = await import_costs(deps, team_id, [str(DATA / "cur_legacy_2024_03.csv")])

    assert report.rows_loaded == len(expected) and report.rows_rejected == 0
    assert report.files == {str(DATA / "cur_legacy_2024_03.csv"): "legacy CUR"}
    for by, key in [
        (Dimension.SERVICE, lambda i: i.service),
        (Dimension.REGION, lambda i: i.region),
        (Dimension.ACCOUNT, lambda i: i.account),
        (Dimension.DAY, lambda i: i.day),
        (Dimension.USAGE_TYPE, lambda i: i.usage_type),
        (Dimension.RESOURCE, lambda i: i.resource or "(no resource id)"),
    ]:
        assert await spent(deps, team_id, *MARCH, by) == totals(expected, key), by
    assert await spent(deps, team_id, *MARCH, Dimension.NONE, Metric.AMORTIZED) == {
        "total": sum((i.amortized for i in expected), Decimal(0))
    }
    assert await spent(deps, team_id, *MARCH, Dimension.SERVICE, Metric.AMORTIZED) == totals(
        expected, lambda i: i.service, lambda i: i.amortized
    )
    assert await spent(deps, team_id, *MARCH, Dimension.NONE, Metric.PUBLIC_ON_DEMAND) == {
        "total": sum((i.public_on_demand or 0 for i in expected), Decimal(0))
    }
    assert await spent(deps, team_id, *MARCH, Dimension.TAG, tag_key="Environment") == totals(
        expected, lambda i: i.tags.get("user:Environment") or "(untagged)"
    )
    s3 = await spent(deps, team_id, date(2024, 3, 1), date(2024, 3, 2), Dimension.USAGE_TYPE)
    assert s3["USE1-Requests-Tier1"] == Decimal("0.0000000007")  # 7.0E-10, not a float


async def test_cur2_gzip_and_minimal_cur2_without_resource_or_tag_columns(deps, bus):
    team_id = uuid4()
    expected = cur2("cur2_2024_04.csv.gz") + cur2("cur2_flat_tags_minimal.csv")

    report = await import_costs(
        deps, team_id, [str(DATA / "cur2_2024_04.csv.gz"), str(DATA / "cur2_flat_tags_minimal.csv")]
    )

    assert report.rows_loaded == len(expected)
    assert set(report.files.values()) == {"CUR 2.0"}
    assert await spent(deps, team_id, *APRIL, Dimension.SERVICE) == totals(
        expected, lambda i: i.service
    )
    assert await spent(deps, team_id, *APRIL, Dimension.SERVICE, Metric.AMORTIZED) == totals(
        expected, lambda i: i.service, lambda i: i.amortized
    )
    by_env = await spent(deps, team_id, *APRIL, Dimension.TAG, tag_key="environment")
    assert by_env == totals(expected, lambda i: i.tags.get("user_environment") or "(untagged)")
    by_team = await spent(deps, team_id, *APRIL, Dimension.TAG, tag_key="team")
    assert by_team["team-search"] == Decimal("0.25")
    with pytest.raises(InvalidInput) as unknown:  # one "(untagged)" line would say nothing
        await spent(deps, team_id, *APRIL, Dimension.TAG, tag_key="colour")
    assert "no cost from 2024-04-01 to 2024-05-01 has the tag key 'colour'" in str(unknown.value)
    assert "environment" in str(unknown.value) and "team" in str(unknown.value)


async def test_focus_maps_billed_effective_list_and_loads_other_providers(deps, bus):
    team_id = uuid4()
    expected, others = focus("focus_2024_03.csv")

    report = await import_costs(deps, team_id, [str(DATA / "focus_2024_03.csv")])

    assert report.rows_loaded == len(expected) and report.rows_rejected == 0
    assert others and not report.other_providers  # Microsoft's rows load, under Azure
    by_provider = await spent(deps, team_id, *MARCH, Dimension.PROVIDER)
    assert set(by_provider) == {"aws", "azure"}
    assert sum(by_provider.values()) == sum(line.unblended for line in expected)
    for metric, amount in [
        (Metric.UNBLENDED, lambda i: i.unblended),
        (Metric.AMORTIZED, lambda i: i.amortized),
        (Metric.PUBLIC_ON_DEMAND, lambda i: i.public_on_demand),
    ]:
        assert await spent(deps, team_id, *MARCH, Dimension.ACCOUNT, metric) == totals(
            expected, lambda i: i.account, amount
        ), metric
    assert await spent(deps, team_id, *MARCH, Dimension.REGION) == totals(
        expected, lambda i: i.region
    )


async def test_parquet_export_with_typed_columns_and_tag_map(deps, bus, tmp_path: Path):
    team_id = uuid4()
    path = tmp_path / "cur2-00001.snappy.parquet"
    table = pa.table(
        {
            "bill_billing_period_start_date": pa.array([date(2024, 6, 1)] * 3, pa.date32()).cast(
                pa.timestamp("ms")
            ),
            "line_item_usage_account_id": ["011122223333", "011122223333", "011122223333"],
            "line_item_line_item_type": ["Usage", "Usage", "Credit"],
            "line_item_usage_start_date": pa.array(
                [1717200000000, 1717286400000, 1717286400000], pa.timestamp("ms", tz="UTC")
            ),
            "line_item_product_code": ["AmazonEC2", "AmazonEC2", "AmazonEC2"],
            "line_item_usage_type": ["BoxUsage:m5.large", "BoxUsage:m5.large", None],
            "line_item_unblended_cost": pa.array([0.1, 0.2, -0.05], pa.float64()),
            "product_region_code": ["us-east-1", "us-east-1", None],
            "resource_tags": pa.array(
                [[("user_environment", "prod")], [], None], pa.map_(pa.string(), pa.string())
            ),
        }
    )
    pq.write_table(table, path)

    report = await import_costs(deps, team_id, [str(path)])

    assert report.rows_loaded == 3
    june = (date(2024, 6, 1), date(2024, 7, 1))
    assert await spent(deps, team_id, *june, Dimension.DAY) == {
        "2024-06-01": Decimal("0.1"),
        "2024-06-02": Decimal("0.15"),
    }  # doubles read as 0.1, 0.2
    assert await spent(deps, team_id, *june, Dimension.TAG, tag_key="environment") == {
        "prod": Decimal("0.1"),
        "(untagged)": Decimal("0.15"),
    }
    assert await spent(deps, team_id, *june, Dimension.ACCOUNT) == {"011122223333": Decimal("0.25")}


async def test_bad_rows_are_reported_by_line_and_column_and_good_rows_kept(deps, bus):
    team_id = uuid4()

    report = await import_costs(deps, team_id, [str(DATA / "cur2_bad_rows.csv")])

    assert (report.rows_loaded, report.rows_rejected) == (3, 5)
    found = [(p.problem.line, p.problem.column) for p in report.problems]
    assert found == [
        (3, "line_item_unblended_cost"),
        (6, "line_item_usage_start_date"),
        (7, "(whole row)"),
        (8, "line_item_usage_account_id"),
        (9, "line_item_usage_start_date"),
    ]
    reasons = [p.describe() for p in report.problems]
    assert "line 3, column line_item_unblended_cost: not a number: 'abc'" in reasons[0]
    assert "has 8 fields where the header has 10" in reasons[2]
    assert "required" in reasons[4]
    may = (date(2024, 5, 1), date(2024, 6, 1))
    assert await spent(deps, team_id, *may, Dimension.NONE) == {"total": Decimal("4.50")}
    async with deps.uow() as uow:
        stored = (
            await uow.session.execute(
                text(
                    "SELECT rows_loaded, rows_rejected, jsonb_array_length(problems) FROM ingest.imports "
                    "WHERE import_id = :i"
                ),
                {"i": report.import_id},
            )
        ).one()
    assert tuple(stored) == (3, 5, 5)


async def test_a_file_that_is_not_a_cost_report_is_rejected_and_nothing_is_loaded(deps, bus):
    team_id = uuid4()

    with pytest.raises(NotACostReport) as refused:
        await import_costs(
            deps, team_id, [str(DATA / "cur_legacy_2024_03.csv"), str(DATA / "not_a_report.csv")]
        )

    assert "expected a cost report" in refused.value.message
    assert (
        "lineItem/UnblendedCost" in refused.value.message and "BilledCost" in refused.value.message
    )
    assert "name, email, plan" in refused.value.message
    assert (
        await spent(deps, team_id, *MARCH, Dimension.NONE) == {}
    )  # the first file rolled back too
    with pytest.raises(CostSourceUnreadable, match="does not exist"):
        await import_costs(deps, team_id, ["/no/such/cur.csv"])


async def test_reimporting_a_billing_period_replaces_it_without_double_counting(
    deps, bus, tmp_path
):
    team_id = uuid4()
    original = DATA / "cur_legacy_2024_03.csv"
    await import_costs(deps, team_id, [str(original)])
    first = await spent(deps, team_id, *MARCH, Dimension.ACCOUNT)

    await import_costs(deps, team_id, [str(original)])
    assert await spent(deps, team_id, *MARCH, Dimension.ACCOUNT) == first

    # AWS restated the month: the credit line is gone, one EC2 hour costs more.
    lines = original.read_text().splitlines(keepends=True)
    restated = [line for line in lines if not line.startswith("li-0011,")]
    restated = [
        line.replace(",1,USD,0.096,0.096,0.096,", ",1,USD,0.5,0.5,0.5,")
        if line.startswith("li-0001,")
        else line
        for line in restated
    ]
    path = tmp_path / "restated.csv.gz"
    path.write_bytes(gzip.compress("".join(restated).encode()))
    await import_costs(deps, team_id, [str(path)])

    again = await spent(deps, team_id, *MARCH, Dimension.ACCOUNT)
    assert again["111122223333"] == first["111122223333"] + Decimal("5.00") + Decimal("0.404")
    assert again["444455556666"] == first["444455556666"]
    by_day = await spent(deps, team_id, *MARCH, Dimension.DAY)
    assert by_day["2024-03-03"] == totals(legacy("cur_legacy_2024_03.csv"), lambda i: i.day)[
        "2024-03-03"
    ] + Decimal("5.00")


async def test_import_publishes_one_event_per_account_day_with_drivers(deps, bus, service):
    team_id = uuid4()
    expected = legacy("cur_legacy_2024_03.csv")

    report = await import_costs(deps, team_id, [str(DATA / "cur_legacy_2024_03.csv")])

    day_totals = totals(expected, lambda i: f"{i.account} {i.day}")
    assert report.days_published == len(day_totals)
    events = await eventually(lambda: _when_count(cost_events(bus), len(day_totals)))
    seen = {
        f"{e['aws_account_id']} {e['usage_date']}": Decimal(e["total_unblended_cost"])
        for e in events
    }
    assert seen == day_totals
    ec2 = next(
        e
        for e in events
        if e["usage_date"] == "2024-03-01" and e["aws_account_id"] == "111122223333"
    )
    line = next(ln for ln in ec2["lines"] if ln["service"] == "Amazon Elastic Compute Cloud")
    assert line["region"] == "us-east-1" and line["unblended_cost"] == "0.192"
    assert line["top_resources"] == [{"name": "i-0a1b2c3d4e5f60001", "cost": "0.192"}]
    assert line["top_usage_types"][0]["name"] == "USE1-BoxUsage:m5.large"
    assert all(e["source"] == "cur" and e["revision"] == 1 and e["backfill"] for e in events)

    await import_costs(deps, team_id, [str(DATA / "cur_legacy_2024_03.csv")])  # nothing changed
    assert len(await cost_events(bus)) == len(day_totals)


async def _when_count(events_coro, count: int) -> list[dict] | None:
    events = await events_coro
    return events if len(events) >= count else None


async def test_s3_export_is_read_through_its_manifest_with_the_accounts_role(deps, bus, customer):
    team_id = uuid4()
    external_id = (
        await accounts.external_id(deps, Command(ExternalIdRequest(), Actor.operator(team_id)))
    ).external_id
    role_arn = customer.create_role(external_id, export_bucket="team-cur-exports")
    body = (DATA / "cur2_2024_04.csv.gz").read_bytes()
    manifest = {
        "executionId": "e1",
        "dataFiles": ["s3://team-cur-exports/daily/cur2/data/BILLING_PERIOD=2024-04/part-0.csv.gz"],
    }
    customer.bucket(
        "team-cur-exports",
        {
            "daily/cur2/data/BILLING_PERIOD=2024-04/part-0.csv.gz": body,
            "daily/cur2/data/BILLING_PERIOD=2024-04/stale-part-from-an-older-run.csv.gz": body,
            "daily/cur2/metadata/BILLING_PERIOD=2024-04/cur2-Manifest.json": json.dumps(
                manifest
            ).encode(),
        },
    )

    connected = await accounts.connect_account(
        deps,
        Command(
            ConnectAccountRequest(role_arn=role_arn, export_bucket="team-cur-exports"),
            Actor.operator(team_id),
        ),
    )
    assert connected.ok, connected.error

    report = await import_costs(deps, team_id, ["s3://team-cur-exports/daily/cur2/"])

    expected = cur2("cur2_2024_04.csv.gz")
    assert list(report.files) == [manifest["dataFiles"][0]]
    assert await spent(deps, team_id, *APRIL, Dimension.SERVICE) == totals(
        expected, lambda i: i.service
    )


async def test_two_teams_importing_the_same_account_never_see_each_other(deps, bus):
    team_a, team_b = uuid4(), uuid4()
    await import_costs(deps, team_a, [str(DATA / "cur_legacy_2024_03.csv")])
    await import_costs(deps, team_b, [str(DATA / "cur2_flat_tags_minimal.csv")])

    assert await spent(deps, team_b, *MARCH, Dimension.ACCOUNT) == {}
    assert set(await spent(deps, team_b, *APRIL, Dimension.ACCOUNT)) == {"444455556666"}
    assert await spent(deps, team_a, *APRIL, Dimension.ACCOUNT) == {}
    a_before = await spent(deps, team_a, *MARCH, Dimension.ACCOUNT)
    await import_costs(deps, team_b, [str(DATA / "cur_legacy_2024_03.csv")])  # same account, team B
    assert await spent(deps, team_a, *MARCH, Dimension.ACCOUNT) == a_before
    assert await spent(deps, team_b, *MARCH, Dimension.ACCOUNT) == a_before
