"""Severity, root cause, cost series of a day, and the backtest command's CSV handling."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest
from cloudaudit.analytics.adapters import backtest_csv
from cloudaudit.analytics.domain.backtest import MalformedBacktestRow
from cloudaudit.analytics.domain.cost_series import ACCOUNT_TOTAL, SeriesRef, series_of_day
from cloudaudit.analytics.domain.detector import DetectorConfig, Thresholds
from cloudaudit.analytics.domain.root_cause import explain, learn_drivers
from cloudaudit.analytics.domain.severity import classify
from cloudaudit.analytics.entrypoints.cli import register
from cloudaudit.common.events.anomaly import Severity
from cloudaudit.common.events.cost import CostDayRecorded, CostDriver, CostLine
from typer import Typer
from typer.testing import CliRunner


@pytest.mark.parametrize(
    ("impact", "pct", "severity"),
    [
        ("120", "25", Severity.LOW),
        ("150", "900", Severity.MEDIUM),  # a big jump of a small service: one level up at most
        ("300", "30", Severity.MEDIUM),
        ("700", "350", Severity.HIGH),
        ("1200", "40", Severity.HIGH),
        ("6000", "30", Severity.CRITICAL),
        ("2000", "400", Severity.CRITICAL),
    ],
)
def test_severity_comes_from_dollars_and_percent(impact, pct, severity):
    assert classify(Decimal(impact), Decimal(pct)) is severity


def test_root_cause_names_the_drivers_that_rose_with_their_dollars():
    baseline: dict[str, float] = {}
    for _ in range(10):
        baseline = learn_drivers(
            baseline,
            {"usage_type:BoxUsage:m5.large": Decimal("100"), "resource:i-1": Decimal("100")},
        )
    causes = explain(
        baseline,
        {
            "usage_type:BoxUsage:m5.large": Decimal("100"),
            "usage_type:BoxUsage:p4d.24xlarge": Decimal("650.255"),
            "resource:i-1": Decimal("101"),
            "resource:i-gpu": Decimal("650"),
        },
    )
    assert [(c.dimension, c.name, c.contribution) for c in causes] == [
        ("usage_type", "BoxUsage:p4d.24xlarge", Decimal("650.26")),
        ("resource", "i-gpu", Decimal("650.00")),
        ("resource", "i-1", Decimal("1.00")),
    ]


def test_a_day_splits_into_account_total_and_service_region_series():
    summary = uuid4()
    event = CostDayRecorded(
        team_id=uuid4(),
        account_id=uuid4(),
        aws_account_id="123456789012",
        usage_date=date(2026, 1, 5),
        total_unblended_cost=Decimal("130"),
        lines=[
            CostLine(
                summary_id=summary,
                service="AmazonEC2",
                region="us-east-1",
                unblended_cost=Decimal("100"),
                top_usage_types=[CostDriver(name="BoxUsage", cost=Decimal("100"))],
            ),
            CostLine(
                summary_id=uuid4(),
                service="AmazonS3",
                region="us-east-1",
                unblended_cost=Decimal("30"),
            ),
        ],
    )
    days = series_of_day(event)
    ec2 = days[SeriesRef("AmazonEC2", "us-east-1")]
    assert (ec2.cost, ec2.summary_id, ec2.drivers) == (
        Decimal("100"),
        summary,
        {"usage_type:BoxUsage": Decimal("100")},
    )
    assert days[ACCOUNT_TOTAL].cost == Decimal("130")
    assert days[ACCOUNT_TOTAL].drivers["service:AmazonS3"] == Decimal("30")
    assert days[ACCOUNT_TOTAL].drivers["region:us-east-1"] == Decimal("130")


def _csv(rows: list[str]) -> io.StringIO:
    return io.StringIO("series_id,timestamp,value,account,service,region\n" + "\n".join(rows))


def test_backtest_csv_writes_one_row_per_input_row():
    rows = [
        f"s{k},2026-01-{d:02d},{100 + k},1,EC2,us-east-1" for d in range(1, 29) for k in range(2)
    ]
    out = io.StringIO()
    run = backtest_csv.run(_csv(rows), out, DetectorConfig(), Thresholds())
    lines = out.getvalue().splitlines()
    assert lines[0] == "series_id,timestamp,score,is_anomaly"
    assert len(lines) == 1 + len(rows) and run.points == len(rows) and run.series == 2
    assert lines[1].startswith("s0,2026-01-01,") and lines[-1].endswith(",0")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the input is empty"),
        ("a,b,c\n1,2,3\n", "no column series_id, timestamp, value"),
        ("series_id,timestamp,value\ns,2026-13-01,1\n", "line 2"),
        ("series_id,timestamp,value\ns,2026-01-02,1\ns,2026-01-01,1\n", "must increase"),
    ],
)
def test_backtest_rejects_bad_input_with_a_reason(text, message):
    with pytest.raises(MalformedBacktestRow, match=message):
        backtest_csv.run(io.StringIO(text), io.StringIO(), DetectorConfig(), Thresholds())


def test_backtest_command_reads_and_writes_files(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "series_id,timestamp,value\n"
        + "\n".join(f"s,2026-01-01 {h:02d}:00:00,{10 + h % 3}" for h in range(24))
        + "\n"
    )
    config = tmp_path / "detector.toml"
    config.write_text("min_impact_pct = 30\nz_open = 3.5\n")
    app = Typer()
    register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--input",
            str(source),
            "--output",
            str(tmp_path / "out.csv"),
            "--units",
            "raw",
            "--config",
            str(config),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.csv").read_text().count("\n") == 25
    bad = CliRunner().invoke(
        app, ["backtest", "--input", str(tmp_path / "missing.csv"), "--output", "-"]
    )
    assert bad.exit_code == 1 and "cannot open" in bad.output
