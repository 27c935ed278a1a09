"""Labels for the independent benchmark worlds: events injected into a normal bill, judged by
the dollar rules of an outside judge, and written as `series_id,timestamp,value,zone,event_id`.

- Daily: an event is material when its impact is at least $100 (spike: over its days; shift:
  its first 7 days; leak: over the ramp); hourly: at least $10 within 24 hours.
- Changes of at most $15 (daily) / $2 (hourly) in total are traps; so are recurring fees and
  billing artefacts (the generator marks those steps itself). Nothing in between is generated:
  an event whose impact falls between the two is scaled to one side.
- Drops to zero are zone `drop` (never events, never counted).
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

MATERIAL = {1: 100.0, 24: 10.0}
TRAP = {1: 15.0, 24: 2.0}


@dataclass
class LabelledSeries:
    series_id: str
    stamps: list[datetime]
    values: list[float]
    zones: list[str]
    event_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.event_ids:
            self.event_ids = [""] * len(self.values)


def impact(excess: list[float], kind: str, steps_per_day: int) -> float:
    """The judge's dollar impact of an excess profile (one value per affected step)."""
    if steps_per_day == 1:
        return sum(excess[:7]) if kind == "shift" else sum(excess)
    window = 24
    if len(excess) <= window:
        return sum(excess)
    running = best = sum(excess[:window])
    for i in range(window, len(excess)):
        running += excess[i] - excess[i - window]
        best = max(best, running)
    return best


def shaped(rng: random.Random, kind: str, steps_per_day: int, room: int) -> list[float]:
    """Relative excess per step (multiples of the local level) of one event."""
    hourly = steps_per_day > 1
    if kind == "spike":
        length = rng.randint(1, 6) if hourly else rng.randint(1, 3)
        size = math.exp(rng.uniform(math.log(0.4), math.log(5.0)))
        return [size * rng.uniform(0.8, 1.2) for _ in range(min(length, room))]
    if kind == "shift":
        length = room if rng.random() < 0.5 else rng.randint(*((12, 96) if hourly else (5, 30)))
        size = math.exp(rng.uniform(math.log(0.3), math.log(3.0)))
        return [size * rng.uniform(0.9, 1.1) for _ in range(min(length, room))]
    ramp = rng.randint(*((6, 36) if hourly else (7, 28)))
    size = math.exp(rng.uniform(math.log(0.6), math.log(4.0)))
    return [size * (i + 1) / ramp for i in range(min(ramp, room))]


def inject(
    rng: random.Random,
    series: LabelledSeries,
    steps_per_day: int,
    first_step: int,
    count: int,
    tag: str,
) -> None:
    """Add up to `count` events after `first_step`, each material or a trap (never between)."""
    n = len(series.values)
    cursor = first_step
    gap = 10 * steps_per_day if steps_per_day > 1 else 12
    for index in range(count):
        start = cursor + rng.randint(gap // 2, gap * 3)
        if start >= n - 3 * max(1, steps_per_day // 4):
            return
        if any(z != "normal" for z in series.zones[start : start + 3]):
            cursor = start + gap
            continue
        kind = rng.choice(("spike", "spike", "shift", "leak"))
        relative = shaped(rng, kind, steps_per_day, n - start)
        recent = [v for v in series.values[max(0, start - 7 * steps_per_day) : start] if v > 0]
        local = sorted(recent)[len(recent) // 2] if recent else 0.0
        if local <= 0:
            cursor = start + gap
            continue
        excess = [r * local for r in relative]
        value = impact(excess, kind, steps_per_day)
        material, trap = MATERIAL[steps_per_day], TRAP[steps_per_day]
        if trap < value < material:
            wanted = material * rng.uniform(1.05, 3.0) if rng.random() < 0.6 else trap * 0.8
            excess = [e * wanted / value for e in excess]
            value = wanted
        zone = kind if value >= material else "trap"
        end = start + len(excess)
        if any(z == "drop" for z in series.zones[start:end]):
            cursor = end + gap
            continue
        for i, e in enumerate(excess):
            series.values[start + i] += e
            series.zones[start + i] = zone
            series.event_ids[start + i] = f"{tag}-{index}"
        cursor = end + gap


def write(path: Path, series: list[LabelledSeries], steps_per_day: int) -> tuple[int, int]:
    """Rows interleaved in time order (a live feed); returns (points, material events)."""
    rows: list[tuple[datetime, str, float, str, str]] = []
    events: set[str] = set()
    for s in series:
        for at, value, zone, event_id in zip(s.stamps, s.values, s.zones, s.event_ids, strict=True):
            rows.append((at, s.series_id, value, zone, event_id))
            if zone in ("spike", "shift", "leak"):
                events.add(event_id or f"{s.series_id}:{zone}")
    rows.sort(key=lambda r: (r[0], r[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "%Y-%m-%d" if steps_per_day == 1 else "%Y-%m-%d %H:%M:%S"
    with path.open("w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(("series_id", "timestamp", "value", "zone", "event_id"))
        for at, sid, value, zone, event_id in rows:
            out.writerow((sid, at.strftime(fmt), f"{max(value, 0.0):.4f}", zone, event_id))
    return len(rows), len(events)
