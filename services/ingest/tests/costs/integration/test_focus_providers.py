"""FOCUS exports of several clouds, as anonymised real exports write them (13-digit ids, GUIDs,
dotted OCIDs, `NULL` literals, `Usage-based`, negative credits, billing periods other than the
charge's), written here and imported through the real CLI and service into PostgreSQL: every
provider's rows load under their own account, spend splits by provider and by currency, and
no provider id reaches a bus subject."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cloudaudit.ingest.domain.spend import Dimension, Metric
from cloudaudit.ingest.service.imports import import_costs
from sqlalchemy import text

from .conftest import spent

MARCH = (date(2025, 3, 1), date(2025, 4, 1))
AWS_ANON = "2740000000001"  # an anonymised AWS id: 13 digits
AWS_REAL = "012345678901"
AZURE_SUB = "9f3c2a1e-4b5d-4e6f-8a7b-0c1d2e3f4a5b"
AZURE_BILLING = "7d1e5c3b-1111-4222-8333-944455566677"
OCI_TENANCY = "ocid1.tenancy.oc1..aaaaaaaab3xampletenancy"
OCI_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaaexamplecompartment"
COLUMNS = (
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeFrequency",
    "CommitmentDiscountCategory",
    "CommitmentDiscountStatus",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ProviderName",
    "RegionId",
    "ResourceId",
    "ServiceName",
    "SubAccountId",
    "Tags",
)


def focus_row(provider: str, billing: str, sub: str, day: date, cost: str, **values: str) -> dict:
    row = {
        "BillingAccountId": billing,
        "BillingCurrency": "USD",
        "BillingPeriodStart": f"{day.replace(day=1)}T00:00:00Z",
        "BillingPeriodEnd": "NULL",
        "ChargePeriodStart": f"{day}T00:00:00Z",
        "ChargePeriodEnd": f"{day}T23:59:59Z",
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "CommitmentDiscountCategory": "NULL",
        "CommitmentDiscountStatus": "NULL",
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ProviderName": provider,
        "RegionId": "NULL",
        "ResourceId": "NULL",
        "ServiceName": "Compute",
        "SubAccountId": sub,
        "Tags": "NULL",
    }
    row.update(values)
    return row


def mixed_rows() -> list[dict]:
    d1, d2 = date(2025, 3, 1), date(2025, 3, 2)
    return [
        focus_row("AWS", AWS_ANON, AWS_ANON, d1, "10.00", ServiceName="Amazon Simple Storage Service",
                  Tags=json.dumps({" Environment ": "prod"})),
        focus_row("AWS", AWS_ANON, AWS_REAL, d2, "2.50"),
        focus_row("Microsoft", AZURE_BILLING, AZURE_SUB, d1, "20.00", ChargeFrequency="Usage-based",
                  BillingCurrency="EUR", ServiceName="Virtual Machines"),
        # A credit, billed in April for a March charge.
        focus_row("Microsoft", AZURE_BILLING, AZURE_SUB, d2, "-5.00", ChargeCategory="credit",
                  ChargeFrequency="One-Time", BillingCurrency="EUR",
                  BillingPeriodStart="2025-04-01T00:00:00Z"),
        focus_row("Oracle", OCI_TENANCY, OCI_COMPARTMENT, d1, "7.00", ServiceName="Object Storage"),
        # Tax at the billing account: no sub-account.
        focus_row("Oracle", OCI_TENANCY, "NULL", d2, "0.70", ChargeCategory="Tax",
                  ChargeFrequency="NULL"),
    ]  # fmt: skip


def write(path: Path, rows: list[dict]) -> Path:
    if path.name.endswith(".parquet"):
        pq.write_table(
            pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in COLUMNS}), path
        )
        return path
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = out.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


async def accounts_of(deps, team_id: UUID) -> dict[tuple[str, str], tuple[UUID, str, str]]:
    async with deps.uow() as uow:
        rows = await uow.repo.accounts_of_team(team_id)
    return {(r.provider, r.aws_account_id): (r.account_id, r.account_name, r.status) for r in rows}


async def stored_rows(deps, team_id: UUID) -> list[tuple]:
    async with deps.uow() as uow:
        result = await uow.session.execute(
            text(
                "SELECT provider, aws_account_id, charge_category, charge_frequency, currency, "
                "billing_period, unblended_cost, tags FROM ingest.cost_data WHERE team_id = :t "
                "ORDER BY provider, usage_date, unblended_cost"
            ),
            {"t": team_id},
        )
        return [tuple(r) for r in result.all()]


@pytest.mark.parametrize("name", ["focus.csv", "focus.csv.gz", "focus.parquet"])
async def test_every_provider_of_a_mixed_focus_export_loads_under_its_own_account(
    deps, tmp_path, name
):
    team_id = uuid4()
    path = write(tmp_path / name, mixed_rows())

    report = await import_costs(deps, team_id, [str(path)])

    assert (report.rows_loaded, report.rows_rejected) == (6, 0)
    assert not report.other_providers
    accounts = await accounts_of(deps, team_id)
    assert set(accounts) == {
        ("aws", AWS_ANON),
        ("aws", AWS_REAL),
        ("azure", AZURE_SUB),
        ("oci", OCI_COMPARTMENT),
        ("oci", OCI_TENANCY),
    }
    assert accounts[("azure", AZURE_SUB)][1:] == (f"Azure {AZURE_SUB}", "import_only")
    assert accounts[("oci", OCI_TENANCY)][1] == f"OCI {OCI_TENANCY}"
    rows = await stored_rows(deps, team_id)
    assert rows == [
        ("aws", AWS_ANON, "Usage", "Usage-Based", "USD", date(2025, 3, 1), Decimal("10.00"),
         {"Environment": "prod"}),
        ("aws", AWS_REAL, "Usage", "Usage-Based", "USD", date(2025, 3, 1), Decimal("2.50"), None),
        ("azure", AZURE_SUB, "Usage", "Usage-Based", "EUR", date(2025, 3, 1), Decimal("20.00"),
         None),
        ("azure", AZURE_SUB, "Credit", "One-Time", "EUR", date(2025, 4, 1), Decimal("-5.00"),
         None),
        ("oci", OCI_COMPARTMENT, "Usage", "Usage-Based", "USD", date(2025, 3, 1), Decimal("7.00"),
         None),
        ("oci", OCI_TENANCY, "Tax", None, "USD", date(2025, 3, 1), Decimal("0.70"), None),
    ]  # fmt: skip


async def test_spend_splits_by_provider_and_currency_and_credits_subtract(deps, tmp_path):
    team_id = uuid4()
    await import_costs(deps, team_id, [str(write(tmp_path / "focus.csv", mixed_rows()))])

    assert await spent(deps, team_id, *MARCH, Dimension.PROVIDER) == {
        "aws": Decimal("12.50"),
        "azure": Decimal("15.00"),
        "oci": Decimal("7.70"),
    }
    assert await spent(deps, team_id, *MARCH, Dimension.CURRENCY, Metric.AMORTIZED) == {
        "USD": Decimal("20.20"),
        "EUR": Decimal("15.00"),
    }
    assert await spent(deps, team_id, *MARCH, Dimension.DAY) == {
        "2025-03-01": Decimal("37.00"),
        "2025-03-02": Decimal("-1.80"),
    }


async def test_re_importing_replaces_each_providers_billing_period_once(deps, tmp_path):
    team_id = uuid4()
    path = write(tmp_path / "focus.csv.gz", mixed_rows())
    await import_costs(deps, team_id, [str(path)])
    await import_costs(deps, team_id, [str(path)])

    assert len(await stored_rows(deps, team_id)) == 6
    assert len(await accounts_of(deps, team_id)) == 5


async def test_only_aws_accounts_publish_v1_days_and_no_subject_holds_a_provider_id(deps, tmp_path):
    team_id = uuid4()
    await import_costs(deps, team_id, [str(write(tmp_path / "focus.csv", mixed_rows()))])

    async with deps.uow() as uow:
        subjects = [
            row[0]
            for row in (
                await uow.session.execute(
                    text("SELECT subject FROM ingest.outbox WHERE payload::text LIKE :team"),
                    {"team": f"%{team_id}%"},
                )
            ).all()
        ]
    day_subjects = sorted(s for s in subjects if s.startswith("cost.v1.daily."))
    assert day_subjects == [f"cost.v1.daily.{AWS_REAL}"]  # the 13-digit id has no v1 subject
    for subject in subjects:
        for provider_id in (AWS_ANON, AZURE_SUB, OCI_TENANCY, OCI_COMPARTMENT):
            assert provider_id not in subject


async def test_the_import_cli_loads_a_mixed_export_and_spend_shows_providers(
    run_cli, deps, tmp_path
):
    team = str(uuid4())
    path = write(tmp_path / "focus.parquet", mixed_rows())

    result = await run_cli("import-costs", str(path), "--team", team)
    assert result.exit_code == 0, result.output
    assert "rows of other clouds loaded (azure 2, oci 2)" in result.output
    assert "no live API for them yet" in result.output
    by_provider = await run_cli(
        "spend", "--team", team, "--from", "2025-03-01", "--to", "2025-04-01",
        "--by", "provider", "--format", "json",
    )  # fmt: skip

    assert by_provider.exit_code == 0, by_provider.output
    rows = {row["key"]: row["amount"] for row in json.loads(by_provider.output)["rows"]}
    assert rows == {"aws": "12.50", "azure": "15.00", "oci": "7.70"}
