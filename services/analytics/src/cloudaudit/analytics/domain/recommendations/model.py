"""What a rule produces: a candidate recommendation with its savings, confidence and fact sheet."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

CONFIDENCE_QUANTUM = Decimal("0.01")
SAVINGS_QUANTUM = Decimal("0.01")


class RecType(StrEnum):
    IDLE_EC2 = "idle_ec2"
    OVERPROVISIONED_EC2 = "overprovisioned_ec2"
    UNATTACHED_EBS = "unattached_ebs"
    GP2_TO_GP3 = "gp2_to_gp3"
    OLD_SNAPSHOT = "old_snapshot"
    IDLE_EIP = "idle_eip"
    PREVIOUS_GENERATION = "previous_generation"
    STOPPED_INSTANCE_EBS = "stopped_instance_ebs"
    SAVINGS_PLAN = "savings_plan"
    AWS_FINDING = "aws_finding"


@dataclass(frozen=True)
class Fact:
    """One line of the fact sheet: a label the reader understands and its value, as shown."""

    name: str
    text: str


def usd(amount: Decimal) -> str:
    """'$1,234.57': the only way a dollar amount is written in facts and templates."""
    cents = amount.quantize(SAVINGS_QUANTUM, rounding=ROUND_HALF_EVEN)
    return f"-${abs(cents):,.2f}" if cents < 0 else f"${cents:,.2f}"


def number(value: Decimal | int, places: int = 1) -> str:
    """A plain number with at most `places` decimals and no trailing zeros."""
    quantum = Decimal(1).scaleb(-places)
    text = format(Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def pct(value: Decimal | int, places: int = 1) -> str:
    return f"{number(value, places)}%"


def gib(size: int) -> str:
    return f"{size} GiB"


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A recommendation a rule found in the current facts, before lifecycle and text. Fields
    by keyword only: three Decimals in a row are too easy to swap by position."""

    rec_type: RecType
    resource_id: str
    resource_type: str
    region: str
    action: str
    estimated_monthly_savings: Decimal
    confidence: Decimal
    baseline_monthly_cost: Decimal
    facts: tuple[Fact, ...]
    risks: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.resource_id, self.rec_type.value)


def savings(amount: Decimal) -> Decimal:
    """Monthly savings are stated in whole cents."""
    return amount.quantize(SAVINGS_QUANTUM, rounding=ROUND_HALF_EVEN)


def confidence(value: Decimal) -> Decimal:
    """Clamp to [0, 1], two decimals."""
    clamped = min(Decimal(1), max(Decimal(0), value))
    return clamped.quantize(CONFIDENCE_QUANTUM, rounding=ROUND_HALF_EVEN)
