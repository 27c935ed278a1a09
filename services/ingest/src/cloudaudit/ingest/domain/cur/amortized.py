"""Amortized cost by line item type, AWS's rule (CUR user guide, "Understanding Savings Plans"
and "Reservation" amortization; the CUR query library's amortized-cost query):

| line item type            | amortized cost                                              |
| SavingsPlanCoveredUsage   | savingsPlan/SavingsPlanEffectiveCost                        |
| SavingsPlanRecurringFee   | TotalCommitmentToDate - UsedCommitment (the unused part)    |
| SavingsPlanNegation       | 0 (the covered usage's effective cost already counts it)    |
| SavingsPlanUpfrontFee     | 0 (spread over the term through the effective cost)         |
| DiscountedUsage           | reservation/EffectiveCost                                   |
| RIFee                     | UnusedAmortizedUpfrontFeeForBillingPeriod + UnusedRecurringFee |
| Fee with a reservation    | 0 (an RI's upfront payment, spread through EffectiveCost)   |
| anything else             | unblended cost (usage, tax, credits, refunds as they are)   |

Where a report lacks the column a rule needs, the line keeps its unblended cost.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
from cloudaudit.ingest.domain.cur.values import DECIMAL

ZERO_TYPES = ("SavingsPlanNegation", "SavingsPlanUpfrontFee")


def _or(value: pa.Array | None, fallback: pa.Array) -> pa.Array:
    return fallback if value is None else pc.coalesce(value, fallback)


def amortized_cost(
    line_item_type: pa.Array,
    unblended: pa.Array,
    sp_effective_cost: pa.Array | None,
    sp_total_commitment: pa.Array | None,
    sp_used_commitment: pa.Array | None,
    ri_effective_cost: pa.Array | None,
    ri_unused_amortized_upfront_fee: pa.Array | None,
    ri_unused_recurring_fee: pa.Array | None,
    reservation_arn: pa.Array | None,
) -> pa.Array:
    """Arrays in, one decimal array out (None for a column the report does not have)."""
    length = len(unblended)
    zero = pa.scalar(Decimal(0), DECIMAL)
    kind = pc.fill_null(line_item_type, "")
    has_reservation = (
        pc.fill_null(pc.greater(pc.utf8_length(reservation_arn), 0), False)
        if reservation_arn is not None
        else pa.array([False] * length)
    )
    if sp_total_commitment is None or sp_used_commitment is None:
        sp_unused = unblended
    else:
        sp_unused = pc.subtract(
            pc.coalesce(sp_total_commitment, zero), pc.coalesce(sp_used_commitment, zero)
        ).cast(DECIMAL)
    if ri_unused_amortized_upfront_fee is None and ri_unused_recurring_fee is None:
        ri_unused = unblended
    else:
        upfront = ri_unused_amortized_upfront_fee
        recurring = ri_unused_recurring_fee
        ri_unused = pc.add(
            pc.coalesce(upfront, zero)
            if upfront is not None
            else pa.nulls(length, DECIMAL).fill_null(zero),
            pc.coalesce(recurring, zero)
            if recurring is not None
            else pa.nulls(length, DECIMAL).fill_null(zero),
        ).cast(DECIMAL)
    conditions = pc.make_struct(
        pc.equal(kind, "SavingsPlanCoveredUsage"),
        pc.equal(kind, "SavingsPlanRecurringFee"),
        pc.or_(
            pc.is_in(kind, pa.array(ZERO_TYPES)), pc.and_(pc.equal(kind, "Fee"), has_reservation)
        ),
        pc.equal(kind, "DiscountedUsage"),
        pc.equal(kind, "RIFee"),
        field_names=["sp_covered", "sp_fee", "zero", "ri_discounted", "ri_fee"],
    )
    zeros = pa.nulls(length, DECIMAL).fill_null(zero)
    return pc.case_when(
        conditions,
        _or(sp_effective_cost, unblended),
        sp_unused,
        zeros,
        _or(ri_effective_cost, unblended),
        ri_unused,
        unblended,
    ).cast(DECIMAL)
