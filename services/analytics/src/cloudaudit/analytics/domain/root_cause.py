"""Root cause: which usage types, regions, services and resources carry an anomaly's excess.

Each series keeps a baseline of what its drivers usually cost (weighted mean over normal days);
on an anomalous day, a driver's contribution is its cost that day minus its baseline. Drivers
that are new simply have a baseline of zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from cloudaudit.common.money import CENT

DRIVER_FADING = 0.2
MAX_DRIVERS_KEPT = 40
MAX_CAUSES_PER_DIMENSION = 3


@dataclass(frozen=True, slots=True)
class Cause:
    dimension: str
    name: str
    contribution: Decimal


def driver_key(dimension: str, name: str) -> str:
    return f"{dimension}:{name}"


def learn_drivers(baseline: Mapping[str, float], today: Mapping[str, Decimal]) -> dict[str, float]:
    """Fold a normal day's driver costs into the baseline (missing drivers fade to zero)."""
    updated: dict[str, float] = {}
    for key in set(baseline) | set(today):
        old = baseline.get(key)
        value = float(today.get(key, Decimal(0)))
        updated[key] = value if old is None else old + DRIVER_FADING * (value - old)
    kept = sorted(updated.items(), key=lambda kv: kv[1], reverse=True)[:MAX_DRIVERS_KEPT]
    return {k: round(v, 6) for k, v in kept if v > 0.000001}


def explain(baseline: Mapping[str, float], today: Mapping[str, Decimal]) -> list[Cause]:
    """Drivers whose cost rose, largest first, a few per dimension, in dollars."""
    by_dimension: dict[str, list[Cause]] = {}
    for key, cost in today.items():
        dimension, _, name = key.partition(":")
        contribution = (cost - Decimal(str(baseline.get(key, 0.0)))).quantize(CENT)
        if contribution > 0:
            by_dimension.setdefault(dimension, []).append(Cause(dimension, name, contribution))
    causes: list[Cause] = []
    for found in by_dimension.values():
        found.sort(key=lambda c: c.contribution, reverse=True)
        causes.extend(found[:MAX_CAUSES_PER_DIMENSION])
    causes.sort(key=lambda c: c.contribution, reverse=True)
    return causes
