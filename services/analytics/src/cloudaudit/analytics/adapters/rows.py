"""Frozen row dataclasses from SQLAlchemy result mappings and back to column values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

Row = TypeVar("Row")


def from_mapping(cls: type[Row], mapping: Mapping[str, Any], **extra: Any) -> Row:
    """A row dataclass from a result mapping (columns the dataclass does not name are left)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{n: mapping[n] for n in names if n in mapping}, **extra)


def columns(row: object) -> dict[str, Any]:
    """A row dataclass's fields as column values (shallow: model states are not copied)."""
    return {f.name: getattr(row, f.name) for f in fields(row)}  # type: ignore[arg-type]
