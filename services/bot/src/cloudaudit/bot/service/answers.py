"""What a handler hands back to Slack: blocks, notification text, visibility, maybe a chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Chart:
    png: bytes
    filename: str
    title: str


@dataclass(frozen=True)
class Answer:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    in_channel: bool = False  # False: only the person who asked sees it
    chart: Chart | None = None
