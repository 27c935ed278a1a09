"""The dashboard's table, chart and CSV from a spend answer, exact to the cent."""

from datetime import date
from decimal import Decimal

from cloudaudit.common.events.cost import SpendGroup, SpendPoint, SpendReply
from cloudaudit.web.views.tables import chart_option, spend_csv, spend_table


def _reply() -> SpendReply:
    return SpendReply(
        total=Decimal("30.03"),
        groups=[
            SpendGroup(
                key='=HYPERLINK("http://evil")',
                total=Decimal("10.01"),
                points=[SpendPoint(period=date(2027, 3, 2), amount=Decimal("10.01"))],
            ),
            SpendGroup(
                key="AmazonEC2",
                total=Decimal("20.02"),
                points=[
                    SpendPoint(period=date(2027, 3, 1), amount=Decimal("0.01")),
                    SpendPoint(period=date(2027, 3, 2), amount=Decimal("20.01")),
                ],
            ),
        ],
    )


def test_days_missing_from_a_group_are_zero_and_amounts_stay_exact():
    table = spend_table(_reply())
    assert table.periods == [date(2027, 3, 1), date(2027, 3, 2)]
    assert table.rows[0][1] == [Decimal(0), Decimal("10.01")]
    assert chart_option(table)["series"][1]["data"] == ["0.01", "20.01"]


def test_csv_neutralises_formula_cells_from_the_bill():
    lines = spend_csv(spend_table(_reply())).splitlines()
    assert lines[0] == "group,2027-03-01,2027-03-02,total"
    assert lines[1].startswith("\"'=HYPERLINK(")
    assert lines[-1] == "total,,,30.03"
