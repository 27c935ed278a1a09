"""Cost files as users bring them (CSV, CSV.gz, Parquet whose every column is text, CUR 2.0
naming), written here, imported through the real CLI and service into PostgreSQL: a file that
keeps no row fails loudly, a partly bad file keeps its good rows, Parquet text reads as CSV,
and a service has one name whatever the source."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cloudaudit.common.clock import frozen_at
from cloudaudit.common.testing import PINNED_TODAY
from cloudaudit.ingest.domain.cost_explorer import METRICS
from cloudaudit.ingest.domain.errors import RowsRejected
from cloudaudit.ingest.domain.spend import Dimension, Metric
from cloudaudit.ingest.service.imports import import_costs
from cloudaudit.ingest.service.sync import sync_account
from sqlalchemy import text

from .conftest import spent
from .test_sync import connected

ACCOUNT = "111122223333"
RED = "\x1b[31m"
YELLOW = "\x1b[33m"
MAY = (date(2024, 5, 1), date(2024, 6, 1))
CUR2_COLUMNS = (
    "bill_billing_period_start_date",
    "bill_payer_account_id",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_resource_id",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "line_item_blended_cost",
    "line_item_net_unblended_cost",
    "pricing_public_on_demand_cost",
    "product",
    "product_region_code",
    "product_servicecode",
    "resource_tags",
)


def cur2_row(day: date, cost: str, **values: str) -> dict[str, str]:
    """One CUR 2.0 line item, every value text as the export writes it."""
    row = {
        "bill_billing_period_start_date": f"{day.replace(day=1)}T00:00:00.000Z",
        "bill_payer_account_id": ACCOUNT,
        "line_item_usage_account_id": ACCOUNT,
        "line_item_line_item_type": "Usage",
        "line_item_usage_start_date": f"{day}T00:00:00.000Z",
        "line_item_usage_end_date": f"{day + timedelta(days=1)}T00:00:00.000Z",
        "line_item_product_code": "AmazonS3",
        "line_item_usage_type": "USE1-TimedStorage-ByteHrs",
        "line_item_resource_id": "",
        "line_item_usage_amount": "1",
        "line_item_unblended_cost": cost,
        "line_item_blended_cost": cost,
        "line_item_net_unblended_cost": cost,
        "pricing_public_on_demand_cost": cost,
        "product": json.dumps({"product_name": "Amazon Simple Storage Service"}),
        "product_region_code": "us-east-1",
        "product_servicecode": "AmazonS3",
        "resource_tags": "{}",
    }
    row.update(values)
    return row


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    """CSV, CSV.gz or Parquet by the name; Parquet with every column a string (as exports
    converted by other tools write them)."""
    if path.name.endswith(".parquet"):
        table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in CUR2_COLUMNS})
        pq.write_table(table, path)
        return path
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CUR2_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = out.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


async def import_status(deps) -> list[Any]:
    async with deps.uow() as uow:
        return list(
            (
                await uow.session.execute(
                    text(
                        "SELECT status, rows_loaded, rows_rejected, problems FROM ingest.imports "
                        "ORDER BY started_at"
                    )
                )
            ).all()
        )


# -- every row rejected -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cur2-decimal-commas.csv", "cur2.csv.gz", "cur2.snappy.parquet"])
async def test_a_file_whose_every_row_is_rejected_fails_red_with_the_first_rejections_and_the_fix(
    run_cli, deps, tmp_path, name
):
    team = str(uuid4())
    # A spreadsheet saved the export with decimal commas: no amount reads.
    rows = [cur2_row(date(2024, 5, d), f"{d},50") for d in (1, 2, 3)]
    path = write(tmp_path / name, rows)

    result = await run_cli("import-costs", str(path), "--team", team, color=True)

    assert result.exit_code == 1
    assert result.output.startswith(RED) and "Traceback" not in result.output
    assert f"nothing was imported: every row of {path} (3 rows) was rejected" in result.output
    where = "row 1" if name.endswith(".parquet") else "line 2"  # CSV line 1 is the header
    assert (
        f"{path}: {where}, column line_item_unblended_cost: not a number: '1,50'" in result.output
    )
    assert "'.' as the decimal point" in result.output  # the fix, from the reasons
    assert "then import the same files again" in result.output
    [(status, loaded, rejected, problems)] = await import_status(deps)
    assert (status, loaded, rejected) == ("failed", 0, 3)
    assert problems[0]["reason"].startswith("nothing was imported")
    assert [p["column"] for p in problems[1:]] == ["line_item_unblended_cost"] * 3


async def test_a_wholly_rejected_file_refuses_the_whole_import_not_only_itself(deps, tmp_path):
    """Two parts of one billing period: keeping the good part alone would replace the month by
    half of it."""
    team_id = uuid4()
    good = write(tmp_path / "part-0.csv.gz", [cur2_row(date(2024, 5, 1), "2.00")])
    bad = write(tmp_path / "part-1.csv.gz", [cur2_row(date(2024, 5, 2), "not-a-cost")])
    await import_costs(deps, team_id, [str(good)])

    with pytest.raises(RowsRejected) as refused:
        await import_costs(deps, team_id, [str(good), str(bad)])

    assert f"every row of {bad} (1 rows) was rejected" in refused.value.message
    assert str(good) not in refused.value.message.splitlines()[0]
    assert await spent(deps, team_id, *MAY, Dimension.DAY) == {"2024-05-01": Decimal("2.00")}


async def test_a_partly_rejected_gzip_keeps_every_good_row_and_lists_the_bad_ones_in_yellow(
    run_cli, deps, tmp_path
):
    team = str(uuid4())
    rows = [
        cur2_row(date(2024, 5, 1), "1.25"),
        cur2_row(date(2024, 5, 1), "abc"),
        cur2_row(date(2024, 5, 2), "2.50", line_item_usage_account_id="11112222333x"),
        cur2_row(date(2024, 5, 2), "0.0000000007"),
        cur2_row(date(2024, 5, 3), "3.00", line_item_usage_start_date="31/05/2024"),
    ]
    path = write(tmp_path / "cur2-00001.csv.gz", rows)

    result = await run_cli("import-costs", str(path), "--team", team, color=True)

    assert result.exit_code == 0, result.output
    assert f"{path}  (2 loaded, 3 rejected)" in result.output
    summary = next(line for line in result.output.splitlines() if "loaded 2 rows" in line)
    assert summary.startswith(YELLOW) and "rejected 3" in summary
    assert "the good rows are kept" in summary
    assert f"rejected {path}: line 3, column line_item_unblended_cost: not a number" in (
        result.output
    )
    assert f"rejected {path}: line 4, column line_item_usage_account_id" in result.output
    assert f"rejected {path}: line 6, column line_item_usage_start_date" in result.output
    by_day = await run_cli(
        "spend", "--team", team, "--from", "2024-05-01", "--to", "2024-06-01", "--by", "day",
        "--format", "json",
    )  # fmt: skip
    body = json.loads(by_day.stdout)
    assert {r["key"]: r["amount"] for r in body["rows"]} == {
        "2024-05-01": "1.25",
        "2024-05-02": "0.0000000007",
    }
    assert body["total"] == "1.2500000007"


# -- Parquet whose columns are all text -------------------------------------------------------
async def test_parquet_with_only_text_columns_loads_as_its_csv_twin(deps, tmp_path):
    rows = [
        cur2_row(date(2024, 5, 1), "1.50"),
        # Empty and NULL in amount and time columns: no value, as in the CSV.
        cur2_row(
            date(2024, 5, 1),
            "0.25",
            line_item_blended_cost="",
            pricing_public_on_demand_cost="NULL",
            line_item_usage_amount="",
            line_item_usage_end_date="",
            line_item_resource_id="",
            resource_tags="",
        ),
        cur2_row(date(2024, 5, 2), "7.0E-10", line_item_net_unblended_cost="", product=""),
    ]
    as_parquet, as_csv = uuid4(), uuid4()

    parquet = await import_costs(deps, as_parquet, [str(write(tmp_path / "p.parquet", rows))])
    twin = await import_costs(deps, as_csv, [str(write(tmp_path / "p.csv", rows))])

    assert (parquet.rows_loaded, parquet.rows_rejected) == (3, 0), parquet.problems
    assert (twin.rows_loaded, twin.rows_rejected) == (3, 0)
    for metric in Metric:
        for by in (Dimension.DAY, Dimension.SERVICE, Dimension.RESOURCE):
            assert await spent(deps, as_parquet, *MAY, by, metric) == await spent(
                deps, as_csv, *MAY, by, metric
            ), (metric, by)
    assert await spent(deps, as_parquet, *MAY, Dimension.DAY, Metric.BLENDED) == {
        "2024-05-01": Decimal("1.50"),  # the empty blended cost is no value, not a zero
        "2024-05-02": Decimal("7.0E-10"),
    }


# -- one service, one name --------------------------------------------------------------------
CE_DAYS = [PINNED_TODAY - timedelta(days=n) for n in (2, 1)]


def ce_day(when: date, groups: list[tuple[list[str], str]]) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": when.isoformat(), "End": (when + timedelta(days=1)).isoformat()},
        "Total": {},
        "Groups": [
            {"Keys": keys, "Metrics": {m: {"Amount": amount, "Unit": "USD"} for m in METRICS}}
            for keys, amount in groups
        ],
        "Estimated": False,
    }


def legacy_cur(path: Path, day: date, account: str) -> Path:
    lines = [
        "lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,"
        "lineItem/ProductCode,product/ProductName,lineItem/UsageType,lineItem/UnblendedCost,"
        "product/region",
        f"{account},Usage,{day}T00:00:00Z,AmazonS3,Amazon Simple Storage Service,"
        "USE1-TimedStorage-ByteHrs,1.00,us-east-1",
        f"{account},Usage,{day}T00:00:00Z,awskms,AWS Key Management Service,"
        "USE1-KMS-Requests,0.03,us-east-1",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
async def test_cur2_legacy_cur_and_cost_explorer_name_a_service_the_same(
    deps, bus, customer, tmp_path
):
    team_id, account_id = await connected(deps, customer)
    account = customer.account_id
    legacy_day, csv_day, parquet_day = (PINNED_TODAY - timedelta(days=n) for n in (40, 30, 20))
    # CUR 2.0: the name in the `product` map where AWS wrote one, a bare code elsewhere.
    named = [
        cur2_row(csv_day, "2.00", line_item_usage_account_id=account),
        cur2_row(
            csv_day,
            "0.05",
            line_item_usage_account_id=account,
            line_item_product_code="awskms",
            product_servicecode="awskms",
            product=json.dumps({"ProductName": "AWS Key Management Service", "region": "x"}),
        ),
    ]
    bare = [
        cur2_row(parquet_day, "0.10", line_item_usage_account_id=account, product="{}"),
        cur2_row(
            parquet_day,
            "0.02",
            line_item_usage_account_id=account,
            line_item_product_code="awskms",
            product_servicecode="awskms",
            product="",
        ),
        cur2_row(
            parquet_day,
            "0.40",
            line_item_usage_account_id=account,
            line_item_product_code="AmazonS3",
            product_servicecode="AWSDataTransfer",
            product="{}",
        ),
    ]
    files = [
        legacy_cur(tmp_path / "legacy.csv", legacy_day, account),
        write(tmp_path / "cur2.csv", named),
        write(tmp_path / "cur2.parquet", bare),
    ]
    customer.queue_cost_and_usage(
        *[
            {
                "ResultsByTime": [
                    ce_day(
                        d,
                        [
                            (["Amazon Simple Storage Service", detail], "3.00"),
                            (["AWS Key Management Service", detail], "0.01"),
                            (["AWS Data Transfer", detail], "0.50"),
                        ],
                    )
                    for d in CE_DAYS
                ],
                "DimensionValueAttributes": [],
            }
            for detail in ("us-east-1", "USE1-Usage")
        ]
    )

    with frozen_at(PINNED_TODAY):
        await import_costs(deps, team_id, [str(f) for f in files])
        await sync_account(deps, account_id)

    window = (legacy_day, PINNED_TODAY)
    expected = {
        "Amazon Simple Storage Service": Decimal("1.00") + Decimal("2.00") + Decimal("0.10") + 6,
        "AWS Key Management Service": Decimal("0.03") + Decimal("0.05") + Decimal("0.02")
        + Decimal("0.02"),
        "AWS Data Transfer": Decimal("0.40") + Decimal("1.00"),
    }  # fmt: skip
    assert await spent(deps, team_id, *window, Dimension.SERVICE) == expected
    async with deps.uow() as uow:
        codes = (
            await uow.session.execute(
                text("SELECT DISTINCT product_code, service FROM ingest.cost_data ORDER BY 1, 2")
            )
        ).all()
    assert [tuple(c) for c in codes] == [
        ("AmazonS3", "AWS Data Transfer"),
        ("AmazonS3", "Amazon Simple Storage Service"),
        ("awskms", "AWS Key Management Service"),
    ]
