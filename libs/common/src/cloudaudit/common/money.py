"""Money: Decimal end to end, serialised as a string on the bus."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

CENT = Decimal("0.01")
# Cost lines carry up to 10 decimal places in CUR; keep 6 in storage (sub-cent accuracy).
STORAGE_QUANTUM = Decimal("0.000001")

Money = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["123.45"]}),
]


def to_cents(amount: Decimal) -> Decimal:
    """Round to whole cents for display, banker's rounding as AWS does on invoices."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_usd(amount: Decimal) -> str:
    """'$1,234.57' (negative as '-$12.00')."""
    cents = to_cents(amount)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"
