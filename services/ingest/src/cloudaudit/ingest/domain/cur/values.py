"""Column values of cost reports made exact: decimals, UTC timestamps, account ids, with every
value that cannot be read reported by row instead of failing the file.

The fast path hands a whole column to Arrow's casts; only a column with a bad value takes the
slow path, row by row, to find which rows and why.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import pyarrow as pa
import pyarrow.compute as pc

# 18 integer digits and 12 decimal places: AWS publishes at most 10 decimal places
# ("7.0E-10"), so every amount in a report is kept exactly.
DECIMAL = pa.decimal128(30, 12)
DECIMAL_QUANTUM = Decimal("1e-12")
DECIMAL_LIMIT = Decimal(10) ** 18
TIMESTAMP = pa.timestamp("us", tz="UTC")

BadValues = list[tuple[int, str]]  # (row index in batch, reason)

_ZONE = r"([Zz]|[+-]\d{2}(:?\d{2})?)$"
_DATE_ONLY = r"^\d{4}-\d{2}-\d{2}$"
_FRACTION = re.compile(r"(\.\d{6})\d+")
_ACCOUNT = r"^\d{12}$"


def null_array(length: int, type_: pa.DataType) -> pa.Array:
    return pa.nulls(length, type=type_)


def as_text(array: pa.Array | pa.ChunkedArray | None, length: int) -> pa.Array:
    if array is None:
        return null_array(length, pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type):
        if pa.types.is_large_string(array.type) or pa.types.is_dictionary(array.type):
            array = array.cast(pa.string())
        else:
            array = pc.cast(array, pa.string())
    return array


def parse_decimal(raw: object) -> Decimal:
    """One amount, exactly: '7.0E-10', '-12.5', ' 3 '. Raises ValueError with the reason."""
    text = str(raw).strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text[:40]!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text[:40]!r}")
    value = value.quantize(DECIMAL_QUANTUM, rounding=ROUND_HALF_EVEN)
    if abs(value) >= DECIMAL_LIMIT:
        raise ValueError(f"too large for an amount: {text[:40]!r}")
    return value


def as_decimal(array: pa.Array | pa.ChunkedArray | None, length: int) -> tuple[pa.Array, BadValues]:
    if array is None:
        return null_array(length, DECIMAL), []
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_floating(array.type):
        # Parquet exports may carry doubles: go through the shortest text that reads back as
        # the same double, never through binary float arithmetic.
        array = pc.cast(array, pa.string())
    try:
        return pc.cast(array, DECIMAL), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    values: list[Decimal | None] = []
    bad: BadValues = []
    for index, raw in enumerate(array.to_pylist()):
        if raw is None:
            values.append(None)
            continue
        try:
            values.append(parse_decimal(raw))
        except ValueError as exc:
            bad.append((index, str(exc)))
            values.append(None)
    return pa.array(values, type=DECIMAL), bad


def parse_timestamp(raw: str) -> datetime:
    """One timestamp as AWS writes them, with or without zone (no zone means UTC)."""
    text = _FRACTION.sub(r"\1", raw.strip())
    if re.match(_DATE_ONLY, text):
        text += "T00:00:00"
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"not a date/time: {raw[:40]!r} (expected e.g. 2024-01-31T00:00:00Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_timestamp(
    array: pa.Array | pa.ChunkedArray | None, length: int
) -> tuple[pa.Array, BadValues]:
    if array is None:
        return null_array(length, TIMESTAMP), []
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:  # a naive timestamp in a cost report is UTC
            array = array.cast(pa.timestamp(array.type.unit)).cast(
                pa.timestamp(array.type.unit, tz="UTC")
            )
        return array.cast(TIMESTAMP, safe=False), []
    if pa.types.is_date(array.type):
        return array.cast(pa.timestamp("us")).cast(TIMESTAMP), []
    text = pc.utf8_trim_whitespace(as_text(array, length))
    date_only = pc.match_substring_regex(text, _DATE_ONLY)
    has_zone = pc.match_substring_regex(text, _ZONE)
    normalised = pc.if_else(
        date_only,
        pc.binary_join_element_wise(text, pa.scalar("T00:00:00Z"), ""),
        pc.if_else(has_zone, text, pc.binary_join_element_wise(text, pa.scalar("Z"), "")),
    )
    try:
        return pc.cast(normalised, pa.timestamp("ns", tz="UTC")).cast(TIMESTAMP, safe=False), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values: list[datetime | None] = []
    bad: BadValues = []
    for index, raw in enumerate(array.to_pylist()):
        if raw is None:
            values.append(None)
            continue
        try:
            values.append(parse_timestamp(str(raw)))
        except ValueError as exc:
            bad.append((index, str(exc)))
            values.append(None)
    return pa.array(values, type=TIMESTAMP), bad


def as_account_id(
    array: pa.Array | pa.ChunkedArray | None, length: int
) -> tuple[pa.Array, BadValues]:
    """12-digit AWS account ids; a number column lost the leading zeros, which are restored."""
    text = pc.utf8_trim_whitespace(as_text(array, length))
    digits = pc.match_substring_regex(text, r"^\d{1,12}$")
    padded = pc.if_else(digits, pc.utf8_lpad(text, 12, "0"), text)
    valid = pc.match_substring_regex(padded, _ACCOUNT)
    bad_mask = pc.and_(pc.is_valid(padded), pc.invert(valid))
    bad: BadValues = []
    if pc.any(bad_mask).as_py():
        for index in pc.indices_nonzero(bad_mask).to_pylist():
            bad.append(
                (index, f"not a 12-digit AWS account id: {str(padded[index].as_py())[:40]!r}")
            )
        padded = pc.if_else(bad_mask, pa.scalar(None, pa.string()), padded)
    return padded, bad
