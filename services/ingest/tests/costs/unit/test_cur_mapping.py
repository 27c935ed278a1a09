"""Cost report values and rows, without servers: formats, exact decimals, times, amortization,
tags, rejected rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from cloudaudit.ingest.domain.cur.formats import CostFormat, TagStyle, detect_format
from cloudaudit.ingest.domain.cur.mapping import map_batch, tag_role
from cloudaudit.ingest.domain.cur.values import as_account_id, as_decimal, as_timestamp
from cloudaudit.ingest.domain.errors import NotACostReport
from hypothesis import given, settings
from hypothesis import strategies as st

from ..oracle import reference_amortized

amounts = st.decimals(
    min_value=Decimal("-1e9"),
    max_value=Decimal("1e9"),
    places=10,
    allow_nan=False,
    allow_infinity=False,
)


def spelled(value: Decimal, style: str) -> str:
    if style == "plain":
        return format(value, "f")
    if style == "exponent":
        return f"{value:E}" if value else "0.0E+0"
    return format(value.normalize(), "f") if value else "0"


@settings(deadline=None)  # the first call pays Arrow's start-up
@given(
    values=st.lists(
        st.tuples(amounts, st.sampled_from(["plain", "exponent", "short"])), max_size=40
    )
)
def test_amounts_in_any_spelling_are_read_exactly(values):
    raw = pa.array([spelled(v, style) for v, style in values] + [None], pa.string())
    parsed, bad = as_decimal(raw, len(raw))
    assert bad == []
    assert parsed.to_pylist() == [Decimal(spelled(v, style)) for v, style in values] + [None]


def test_unreadable_amounts_are_reported_by_row_and_the_rest_kept():
    parsed, bad = as_decimal(pa.array(["1.5", "abc", "1,234.50", "NaN", " 2 ", "7.0E-10"]), 6)
    assert [i for i, _ in bad] == [1, 2, 3]
    assert "not a number: 'abc'" in bad[0][1]
    assert parsed.to_pylist() == [Decimal("1.5"), None, None, None, Decimal(2), Decimal("7E-10")]


def test_doubles_from_parquet_are_read_through_their_shortest_text():
    parsed, _ = as_decimal(pa.array([0.1, 0.2, 1e-10], pa.float64()), 3)
    assert parsed.to_pylist() == [Decimal("0.1"), Decimal("0.2"), Decimal("1E-10")]


def test_timestamps_with_and_without_zone_are_utc():
    raw = pa.array(
        [
            "2024-03-01T00:00:00Z",
            "2024-03-01 05:00:00",
            "2024-03-01T00:00:00.000Z",
            "2024-03-01T02:00:00+02:00",
            "2024-03-31",
            None,
        ]
    )
    parsed, bad = as_timestamp(raw, len(raw))
    assert bad == []
    hour = [datetime(2024, 3, 1, h, tzinfo=UTC) for h in (0, 5, 0, 0)]
    assert parsed.to_pylist() == [*hour, datetime(2024, 3, 31, tzinfo=UTC), None]
    _, bad = as_timestamp(pa.array(["2024-02-30T00:00:00Z", "yesterday"]), 2)
    assert [i for i, _ in bad] == [0, 1]


def test_account_ids_keep_leading_zeros_and_refuse_anything_else():
    parsed, bad = as_account_id(pa.array(["011122223333", "11122223333", "12-34", None]), 4)
    assert parsed.to_pylist() == ["011122223333", "011122223333", None, None]
    assert [i for i, _ in bad] == [2]


@pytest.mark.parametrize(
    ("header", "fmt", "tags"),
    [
        (
            [
                "lineItem/UsageStartDate",
                "lineItem/UsageAccountId",
                "lineItem/UnblendedCost",
                "resourceTags/user:Env",
            ],
            CostFormat.CUR,
            TagStyle.COLUMNS,
        ),
        (
            [
                "line_item_usage_start_date",
                "line_item_usage_account_id",
                "line_item_unblended_cost",
                "resource_tags",
            ],
            CostFormat.CUR2,
            TagStyle.JSON,
        ),
        (
            [
                "\ufeffline_item_usage_start_date",
                "line_item_usage_account_id",
                "line_item_unblended_cost",
            ],
            CostFormat.CUR2,
            TagStyle.COLUMNS,
        ),
        (
            ["ChargePeriodStart", "SubAccountId", "BilledCost", "Tags"],
            CostFormat.FOCUS,
            TagStyle.JSON,
        ),
    ],
)
def test_the_format_is_told_by_the_header(header, fmt, tags):
    layout = detect_format(header)
    assert (layout.format, layout.tag_style) == (fmt, tags)


def test_a_report_missing_required_columns_says_which():
    with pytest.raises(NotACostReport, match="lineItem/UsageAccountId"):
        detect_format(["lineItem/UsageStartDate", "lineItem/UnblendedCost"], "old.csv")


def test_something_else_is_refused_with_what_was_expected():
    with pytest.raises(NotACostReport) as refused:
        detect_format(["date", "amount"], "bank.csv")
    assert "bank.csv is not a cost report" in refused.value.message
    assert "FOCUS" in refused.value.message and "date, amount" in refused.value.message


LINE_TYPES = [
    "Usage",
    "SavingsPlanCoveredUsage",
    "SavingsPlanRecurringFee",
    "SavingsPlanNegation",
    "SavingsPlanUpfrontFee",
    "DiscountedUsage",
    "RIFee",
    "Fee",
    "Credit",
    "Tax",
    "Refund",
]
optional = st.one_of(st.none(), amounts)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(LINE_TYPES),
            amounts,
            optional,
            optional,
            optional,
            optional,
            optional,
            optional,
            st.booleans(),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_amortized_cost_follows_aws_rule_for_every_line_item_type(rows):
    columns = [
        "line_item_usage_start_date",
        "line_item_usage_account_id",
        "line_item_line_item_type",
        "line_item_unblended_cost",
        "savings_plan_savings_plan_effective_cost",
        "savings_plan_total_commitment_to_date",
        "savings_plan_used_commitment",
        "reservation_effective_cost",
        "reservation_unused_amortized_upfront_fee_for_billing_period",
        "reservation_unused_recurring_fee",
        "reservation_reservation_a_r_n",
    ]
    text = lambda v: None if v is None else format(v, "f")  # noqa: E731
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(["2024-03-01T00:00:00Z"] * len(rows)),
            pa.array(["111122223333"] * len(rows)),
            pa.array([r[0] for r in rows]),
            pa.array([text(r[1]) for r in rows]),
            *[pa.array([text(r[i]) for r in rows], pa.string()) for i in range(2, 8)],
            pa.array(["arn:aws:ec2:ri/1" if r[8] else None for r in rows], pa.string()),
        ],
        names=columns,
    )

    mapped = map_batch(batch, detect_format(columns), lambda i: i + 2)

    expected = [
        reference_amortized(r[0], r[1], *r[2:8], "arn:aws:ec2:ri/1" if r[8] else None) for r in rows
    ]
    assert mapped.table.column("amortized_cost").to_pylist() == expected
    assert mapped.table.column("unblended_cost").to_pylist() == [r[1] for r in rows]


def test_tags_become_json_and_the_environment_project_owner_columns():
    columns = [
        "lineItem/UsageStartDate",
        "lineItem/UsageAccountId",
        "lineItem/UnblendedCost",
        "resourceTags/user:Environment",
        "resourceTags/user:Project",
        "resourceTags/user:Team",
    ]
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(["2024-03-01T00:00:00Z"] * 2),
            pa.array(["111122223333"] * 2),
            pa.array(["1", "2"]),
            pa.array(["prod", None]),
            pa.array(["checkout", None]),
            pa.array(["payments", None]),
        ],
        names=columns,
    )
    table = map_batch(batch, detect_format(columns), lambda i: i).table
    assert table.column("tags").to_pylist() == [
        '{"user:Environment":"prod","user:Project":"checkout","user:Team":"payments"}',
        None,
    ]
    assert [
        table.column(c)[0].as_py() for c in ("tag_environment", "tag_project", "tag_owner")
    ] == ["prod", "checkout", "payments"]
    assert tag_role("user_env") == "tag_environment" and tag_role("CostCenter") is None


def test_rejected_rows_name_line_column_value_and_reason():
    columns = [
        "line_item_usage_start_date",
        "line_item_usage_account_id",
        "line_item_unblended_cost",
        "resource_tags",
    ]
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(["2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z", None, "2024-03-01"]),
            pa.array(["111122223333"] * 4),
            pa.array(["1", "x", "2", "3"]),
            pa.array([None, None, None, "[1, 2]"]),
        ],
        names=columns,
    )
    mapped = map_batch(batch, detect_format(columns), lambda i: 10 + i)
    assert mapped.table.num_rows == 1 and mapped.bad_rows == 3
    assert [(p.line, p.column) for p in mapped.problems] == [
        (11, "line_item_unblended_cost"),
        (12, "line_item_usage_start_date"),
        (13, "resource_tags"),
    ]
    assert mapped.problems[0].value == "x"
    assert mapped.table.column("usage_date").to_pylist() == [date(2024, 3, 1)]


def test_focus_usage_a_commitment_covered_reads_as_cur_names_it():
    columns = [
        "ChargePeriodStart",
        "SubAccountId",
        "BilledCost",
        "ChargeCategory",
        "CommitmentDiscountCategory",
        "CommitmentDiscountStatus",
    ]
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(["2024-03-01T00:00:00Z"] * 5),
            pa.array(["111122223333"] * 5),
            pa.array(["0.5", "0.3", "0.2", "0.1", "7"]),
            pa.array(["Usage", "Usage", "Usage", "Usage", "Purchase"]),
            pa.array(["Spend", "Usage", "Spend", None, "Spend"]),
            pa.array(["Used", "Used", "Unused", None, None]),
        ],
        names=columns,
    )
    mapped = map_batch(batch, detect_format(columns), lambda i: i)
    assert mapped.table.column("line_item_type").to_pylist() == [
        "SavingsPlanCoveredUsage",
        "DiscountedUsage",
        "Usage",  # unused commitment is not covered usage
        "Usage",  # on demand
        "Purchase",
    ]


def test_focus_account_ids_are_opaque_per_provider_and_a_row_without_any_is_rejected():
    columns = [
        "ChargePeriodStart",
        "BillingAccountId",
        "SubAccountId",
        "BilledCost",
        "ProviderName",
    ]
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(["2024-03-01T00:00:00Z"] * 5),
            # (the readers turn '' and NULL into no value before mapping)
            pa.array(["2740000000001", "ocid1.tenancy.oc1..aaaa", None, "x", "12345"]),
            pa.array([None, None, "  ", "9f3c2a1e-4b5d-4e6f-8a7b-0c1d2e3f4a5b", None]),
            pa.array(["1", "2", "3", "4", "5"]),
            pa.array(["AWS", "Oracle", "Google Cloud", "Microsoft", "Amazon Web Services"]),
        ],
        names=columns,
    )
    mapped = map_batch(batch, detect_format(columns), lambda i: i + 2)
    assert list(
        zip(
            mapped.table.column("provider").to_pylist(),
            mapped.table.column("aws_account_id").to_pylist(),
            strict=True,
        )
    ) == [
        ("aws", "2740000000001"),  # anonymised: 13 digits, kept
        ("oci", "ocid1.tenancy.oc1..aaaa"),  # the billing account, no sub-account
        ("azure", "9f3c2a1e-4b5d-4e6f-8a7b-0c1d2e3f4a5b"),
        ("aws", "000000012345"),  # zeros a number column lost, put back
    ]
    [problem] = mapped.problems
    assert (problem.line, problem.column) == (4, "SubAccountId")
    assert "SubAccountId and BillingAccountId are both empty" in problem.reason
