"""Cost Explorer answers read exactly: windows, pages, empty totals, estimates, back-off."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from cloudaudit.ingest.domain.cost_explorer import (
    METRICS,
    SERVICE_REGION,
    CeAnswerInvalid,
    backoff_delay,
    clip_to_window,
    cost_and_usage_request,
    merge_pages,
    sync_window,
    tag_grouping,
)
from hypothesis import given
from hypothesis import strategies as st

TODAY = date(2026, 11, 25)


def group(keys, amount):
    return {"Keys": keys, "Metrics": {m: {"Amount": amount, "Unit": "USD"} for m in METRICS}}


def result(day, groups, total=None, estimated=False):
    return {
        "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
        "Total": total or {},
        "Groups": groups,
        "Estimated": estimated,
    }


def test_first_sync_pulls_the_initial_days_capped_by_what_ce_keeps():
    assert sync_window(TODAY, 90, None, None, 3, 365) == (TODAY - timedelta(days=90), TODAY)
    assert sync_window(TODAY, 400, None, None, 3, 365) == (TODAY - timedelta(days=365), TODAY)


def test_later_syncs_start_at_the_watermark_or_the_restated_days():
    last = TODAY - timedelta(days=1)
    assert sync_window(TODAY, 90, last, None, 3, 365) == (TODAY - timedelta(days=3), TODAY)
    old_estimate = TODAY - timedelta(days=20)
    assert sync_window(TODAY, 90, last, old_estimate, 3, 365) == (old_estimate, TODAY)
    stale = TODAY - timedelta(days=30)
    assert sync_window(TODAY, 90, stale, None, 3, 365)[0] == stale + timedelta(days=1)
    assert sync_window(TODAY, 90, last, None, 3, 365, requested_days=7)[0] == TODAY - timedelta(
        days=7
    )


def test_requests_ask_for_daily_grouped_metrics_and_carry_the_page_token():
    request = cost_and_usage_request(TODAY - timedelta(days=2), TODAY, SERVICE_REGION, "tok")
    assert request["Granularity"] == "DAILY" and request["NextPageToken"] == "tok"
    assert request["GroupBy"] == [
        {"Type": "DIMENSION", "Key": "SERVICE"},
        {"Type": "DIMENSION", "Key": "REGION"},
    ]
    assert set(request["Metrics"]) == {
        "UnblendedCost",
        "BlendedCost",
        "AmortizedCost",
        "NetUnblendedCost",
        "UsageQuantity",
    }


def test_a_day_split_across_pages_is_gathered_and_summed_from_groups():
    d = TODAY - timedelta(days=1)
    days = merge_pages(
        [
            {
                "ResultsByTime": [result(d, [group(["EC2", "us-east-1"], "1.10")])],
                "NextPageToken": "x",
            },
            {
                "ResultsByTime": [
                    result(d, [group(["S3", "NoRegion"], "0.000000001")], estimated=True)
                ]
            },
        ],
        SERVICE_REGION,
    )
    assert days[d].total_unblended == Decimal("1.100000001")
    assert {(c.service, c.detail) for c in days[d].costs} == {
        ("EC2", "us-east-1"),
        ("S3", "global"),
    }
    assert days[d].estimated and all(c.estimated for c in days[d].costs)


def test_zero_group_days_are_kept_as_zero_and_a_lone_total_is_not_lost():
    d1, d2 = TODAY - timedelta(days=2), TODAY - timedelta(days=1)
    days = merge_pages(
        [
            {
                "ResultsByTime": [
                    result(d1, []),
                    result(d2, [], total={"UnblendedCost": {"Amount": "3.5", "Unit": "USD"}}),
                ]
            }
        ],
        SERVICE_REGION,
    )
    assert days[d1].costs == [] and days[d1].total_unblended == 0
    assert days[d2].total_unblended == Decimal("3.5")


def test_tag_groups_read_key_dollar_value_and_untagged():
    d = TODAY - timedelta(days=1)
    days = merge_pages(
        [
            {
                "ResultsByTime": [
                    result(
                        d,
                        [
                            group(["EC2", "Environment$prod"], "2"),
                            group(["EC2", "Environment$"], "1"),
                        ],
                    )
                ]
            }
        ],
        tag_grouping("Environment"),
    )
    assert {c.detail: c.unblended_cost for c in days[d].costs} == {"prod": 2, "(untagged)": 1}


def test_an_unreadable_amount_is_an_error_not_a_zero():
    d = TODAY - timedelta(days=1)
    with pytest.raises(CeAnswerInvalid, match="not a number"):
        merge_pages([{"ResultsByTime": [result(d, [group(["EC2", "x"], "12,5")])]}], SERVICE_REGION)


def test_a_metric_the_answer_lacks_is_not_available_not_zero():
    d = TODAY - timedelta(days=1)
    only_two = {
        "Keys": ["S3", "us-east-1"],
        "Metrics": {
            "UnblendedCost": {"Amount": "1.25", "Unit": "USD"},
            "UsageQuantity": {"Amount": "3", "Unit": "N/A"},
            "AmortizedCost": {"Unit": "USD"},  # an entry without an amount is no amount either
        },
    }
    [cost] = merge_pages([{"ResultsByTime": [result(d, [only_two])]}], SERVICE_REGION)[d].costs
    assert (cost.unblended_cost, cost.usage_quantity) == (Decimal("1.25"), Decimal(3))
    assert cost.amortized_cost is None and cost.blended_cost is None
    assert cost.net_unblended_cost is None


def test_groups_that_name_one_line_add_what_they_know():
    d = TODAY - timedelta(days=1)
    no_amortized = {"Keys": ["S3", ""], "Metrics": {"UnblendedCost": {"Amount": "1"}}}
    days = merge_pages(
        [{"ResultsByTime": [result(d, [group(["S3", "NoRegion"], "2"), no_amortized])]}],
        SERVICE_REGION,
    )
    [cost] = days[d].costs  # '' and NoRegion are both the global line
    assert (cost.detail, cost.unblended_cost, cost.amortized_cost) == ("global", 3, 2)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([{"Keys": ["S3", "x"], "Metrics": {"BlendedCost": {"Amount": "1"}}}], "no UnblendedCost"),
        ([group(["S3", "x"], "1e30")], "too large for a cost"),
        ([group(["S3", "x"], "Infinity")], "not finite"),
        ([group(["S3\x00", "x"], "1")], "NUL character"),
    ],
)
def test_an_answer_that_cannot_be_stored_as_it_is_is_refused(groups, message):
    d = TODAY - timedelta(days=1)
    with pytest.raises(CeAnswerInvalid, match=message):
        merge_pages([{"ResultsByTime": [result(d, groups)]}], SERVICE_REGION)


def test_a_group_answered_twice_for_one_day_is_refused_not_counted_twice():
    d = TODAY - timedelta(days=1)
    twice = [
        {"ResultsByTime": [result(d, [group(["S3", "us-east-1"], "1")])], "NextPageToken": "p"},
        {"ResultsByTime": [result(d, [group(["S3", "us-east-1"], "1")])]},
    ]
    with pytest.raises(CeAnswerInvalid, match=f"answered {d} twice .group S3 / us-east-1"):
        merge_pages(twice, SERVICE_REGION)
    lone_totals = [
        result(d, [], total={"UnblendedCost": {"Amount": "1"}}),
        result(d, [], total={"UnblendedCost": {"Amount": "1"}}),
    ]
    with pytest.raises(CeAnswerInvalid, match="the day's total"):
        merge_pages([{"ResultsByTime": lone_totals}], SERVICE_REGION)


def test_keys_longer_than_what_is_stored_are_one_line_not_a_duplicate_key():
    d = TODAY - timedelta(days=1)
    long_tag = "Project$" + "x" * 600
    days = merge_pages(
        [
            {
                "ResultsByTime": [
                    result(
                        d,
                        [group(["EC2", long_tag + "a"], "1"), group(["EC2", long_tag + "b"], "2")],
                    )
                ]
            }
        ],
        tag_grouping("Project"),
    )
    [cost] = days[d].costs
    assert (len(cost.detail), cost.unblended_cost) == (512, 3)


def test_days_outside_the_window_are_clipped_and_named():
    start, end = TODAY - timedelta(days=3), TODAY
    answered = [start - timedelta(days=30), start, end - timedelta(days=1), end]
    days = merge_pages(
        [{"ResultsByTime": [result(d, [group(["S3", "x"], "1")]) for d in answered]}],
        SERVICE_REGION,
    )
    kept, clipped = clip_to_window(days, start, end)
    assert sorted(kept) == [start, end - timedelta(days=1)]
    assert clipped.days == (start - timedelta(days=30), end)
    assert clipped.describe() == f"2 day(s) outside the window ({answered[0]}..{end})"
    assert not clip_to_window(kept, start, end)[1]


@given(attempt=st.integers(0, 30), unit=st.floats(0, 0.999999))
def test_backoff_is_full_jitter_under_the_cap(attempt, unit):
    delay = backoff_delay(attempt, 0.5, 20.0, unit)
    assert 0 <= delay < min(20.0, 0.5 * 2**attempt) or delay == 0
