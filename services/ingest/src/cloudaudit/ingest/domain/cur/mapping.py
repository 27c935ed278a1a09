"""One batch of report rows -> CloudAudit's cost line items (the seed's Cost_data columns).

Rows with an unreadable value are dropped and reported (line, column, reason); the rest of the
batch is kept. FOCUS rows of other providers are skipped and counted, not reported as errors.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from cloudaudit.ingest.domain.cur.amortized import amortized_cost
from cloudaudit.ingest.domain.cur.formats import (
    DECIMAL_FIELDS,
    TEXT_FIELDS,
    CostFormat,
    Layout,
    TagStyle,
)
from cloudaudit.ingest.domain.cur.services import names_for_codes, product_names
from cloudaudit.ingest.domain.cur.values import (
    DECIMAL,
    TIMESTAMP,
    BadValues,
    as_account_id,
    as_decimal,
    as_text,
    as_timestamp,
)

# FOCUS ProviderName / ServiceProviderName as exports write it -> CloudAudit's provider slug.
PROVIDER_SLUGS = {
    "aws": "aws",
    "amazon web services": "aws",
    "amazon": "aws",
    "microsoft": "azure",
    "microsoft azure": "azure",
    "azure": "azure",
    "google": "gcp",
    "google cloud": "gcp",
    "google cloud platform": "gcp",
    "gcp": "gcp",
    "oracle": "oci",
    "oracle cloud infrastructure": "oci",
    "oci": "oci",
}
# FOCUS's allowed values, looked up case- and punctuation-insensitively ('Usage-based').
CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")
# Provider account ids are opaque: 13-digit anonymised ids, GUIDs, dotted OCIDs all load.
MAX_ACCOUNT_ID_LENGTH = 255
# CUR line item types -> FOCUS ChargeCategory, so `spend` can tell charges apart in every format.
_CUR_CATEGORIES = {
    "usage": "Usage",
    "discountedusage": "Usage",
    "savingsplancoveredusage": "Usage",
    "savingsplannegation": "Usage",
    "rifee": "Purchase",
    "fee": "Purchase",
    "savingsplanrecurringfee": "Purchase",
    "savingsplanupfrontfee": "Purchase",
    "tax": "Tax",
    "credit": "Credit",
    "refund": "Adjustment",
    "bundleddiscount": "Credit",
    "edpdiscount": "Credit",
    "privateratediscount": "Credit",
    "distributordiscount": "Credit",
}
TAG_ROLES = {
    "environment": "tag_environment",
    "env": "tag_environment",
    "stage": "tag_environment",
    "project": "tag_project",
    "projectname": "tag_project",
    "application": "tag_project",
    "app": "tag_project",
    "owner": "tag_owner",
    "team": "tag_owner",
    "ownedby": "tag_owner",
}

OUTPUT_SCHEMA = pa.schema(
    [
        ("billing_period", pa.date32()),
        ("usage_date", pa.date32()),
        ("usage_start", TIMESTAMP),
        ("usage_end", TIMESTAMP),
        ("payer_account_id", pa.string()),
        ("aws_account_id", pa.string()),
        ("line_item_type", pa.string()),
        ("product_code", pa.string()),
        ("service", pa.string()),
        ("usage_type", pa.string()),
        ("operation", pa.string()),
        ("resource_id", pa.string()),
        ("usage_amount", DECIMAL),
        ("unblended_cost", DECIMAL),
        ("blended_cost", DECIMAL),
        ("public_on_demand_cost", DECIMAL),
        ("net_unblended_cost", DECIMAL),
        ("amortized_cost", DECIMAL),
        ("region", pa.string()),
        ("instance_type", pa.string()),
        ("pricing_unit", pa.string()),
        ("usage_unit", pa.string()),
        ("currency", pa.string()),
        ("tag_environment", pa.string()),
        ("tag_project", pa.string()),
        ("tag_owner", pa.string()),
        ("tags", pa.string()),
        ("provider", pa.string()),
        ("charge_category", pa.string()),
        ("charge_frequency", pa.string()),
    ]
)
OUTPUT_COLUMNS = tuple(OUTPUT_SCHEMA.names)


@dataclass(frozen=True)
class RowProblem:
    """A row left out of the import: where it is, which column, and why."""

    line: int | None
    column: str
    value: str | None
    reason: str

    def describe(self, unit: str = "line") -> str:
        where = f"{unit} {self.line}" if self.line is not None else "a row"
        return f"{where}, column {self.column}: {self.reason}"


@dataclass
class MappedBatch:
    table: pa.Table
    rows_in: int
    problems: list[RowProblem] = field(default_factory=list)
    bad_rows: int = 0
    other_providers: Counter[str] = field(default_factory=Counter)


@lru_cache(maxsize=4096)
def tag_role(key: str) -> str | None:
    """'user:Environment', 'user_env', 'Env' -> tag_environment; unknown keys -> None."""
    name = key.strip().lower()
    for prefix in ("user:", "user_", "aws:", "aws_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    name = "".join(ch for ch in name if ch.isalnum())
    return TAG_ROLES.get(name)


def _tags_from_json(array: pa.Array) -> tuple[list[dict[str, str] | None], BadValues]:
    if pa.types.is_map(array.type):
        rows = array.to_pylist()
        return [
            ({str(k).strip(): "" if v is None else str(v) for k, v in row} or None) if row else None
            for row in rows
        ], []
    # A report repeats a few tag sets millions of times: read each distinct text once.
    encoded = as_text(array, len(array)).dictionary_encode()
    parsed: list[dict[str, str] | None] = []
    invalid: list[str | None] = []
    for raw in encoded.dictionary.to_pylist():
        tags, problem = _parse_tags(raw)
        parsed.append(tags)
        invalid.append(problem)
    codes = encoded.indices.to_pylist()
    bad: BadValues = []
    for index, code in enumerate(codes):
        problem = None if code is None else invalid[code]
        if problem is not None:
            bad.append((index, problem))
    return [None if code is None else parsed[code] for code in codes], bad


def _parse_tags(raw: str | None) -> tuple[dict[str, str] | None, str | None]:
    if raw is None or raw in ("{}", ""):
        return None, None
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        return None, f"not a JSON object of tags: {raw[:60]!r}"
    if not isinstance(value, dict):
        return None, f"not a JSON object of tags: {raw[:60]!r}"
    # Tag keys are trimmed: FOCUS allows no surrounding spaces, exports still write them.
    return {str(k).strip(): "" if v is None else str(v) for k, v in value.items()} or None, None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _tags_from_columns(
    batch: pa.RecordBatch, columns: list[str], prefix: str, length: int
) -> list[dict[str, str] | None]:
    if not columns:
        return [None] * length
    arrays = [as_text(batch.column(c), length) for c in columns]
    any_tag = arrays[0].is_valid()
    for array in arrays[1:]:
        any_tag = pc.or_(any_tag, array.is_valid())
    tags: list[dict[str, str] | None] = [None] * length
    keys = [c[len(prefix) :] for c in columns]
    indices = pc.indices_nonzero(any_tag).to_pylist()
    if not indices:
        return tags
    taken = [a.take(pa.array(indices)).to_pylist() for a in arrays]
    for position, index in enumerate(indices):
        row = {
            key: values[position]
            for key, values in zip(keys, taken, strict=True)
            if values[position] is not None
        }
        tags[index] = row or None
    return tags


def _tag_columns(tags: list[dict[str, str] | None]) -> dict[str, pa.Array]:
    roles: dict[str, list[str | None]] = {
        "tag_environment": [None] * len(tags),
        "tag_project": [None] * len(tags),
        "tag_owner": [None] * len(tags),
    }
    serialised: list[str | None] = [None] * len(tags)
    seen: dict[int, tuple[str, dict[str, str]]] = {}  # shared dicts (distinct tag texts) once
    for index, row in enumerate(tags):
        if not row:
            continue
        known = seen.get(id(row))
        if known is None:
            found: dict[str, str] = {}
            for key, value in row.items():
                role = tag_role(key)
                if role and value and role not in found:
                    found[role] = value
            known = (json.dumps(row, separators=(",", ":"), ensure_ascii=False), found)
            seen[id(row)] = known
        serialised[index] = known[0]
        for role, value in known[1].items():
            roles[role][index] = value
    out = {name: pa.array(values, pa.string()) for name, values in roles.items()}
    out["tags"] = pa.array(serialised, pa.string())
    return out


NUL_REASON = "contains a NUL character, which cannot be stored; fix the export"


def _report_nul_characters(
    values: dict[str, pa.Array],
    tags: list[dict[str, str] | None],
    layout: Layout,
    source: Callable[[str], pa.Array | None],
    report: Callable[[str | None, pa.Array | None, BadValues], None],
) -> None:
    """PostgreSQL text cannot hold U+0000: such a row is rejected, not the whole import."""
    for name in (*TEXT_FIELDS, "product_name"):
        column = values.get(name)
        if column is None or not pa.types.is_string(column.type):
            continue
        has_nul = pc.fill_null(pc.match_substring(column, "\x00"), False)
        if pc.any(has_nul).as_py():
            hits = pc.indices_nonzero(has_nul).to_pylist()
            field = "product_map" if name == "product_name" else name
            report(layout.column_for(field) or name, source(field), [(i, NUL_REASON) for i in hits])
    tag_hits = [
        (index, NUL_REASON)
        for index, row in enumerate(tags)
        if row and any("\x00" in key or "\x00" in value for key, value in row.items())
    ]
    if tag_hits:
        report(layout.tag_column or "tags", None, tag_hits)


def map_batch(
    batch: pa.RecordBatch,
    layout: Layout,
    line_of: Callable[[int], int | None],
    max_problems: int = 1000,
) -> MappedBatch:
    length = batch.num_rows
    names = batch.schema.names

    def source(name: str) -> pa.Array | None:
        column = layout.column_for(name)
        return batch.column(names.index(column)) if column in names else None

    other: Counter[str] = Counter()  # kept for the report's shape; every provider loads now
    other_rows: set[int] = set()

    bad_rows: dict[int, RowProblem] = {}

    def report(column: str | None, raw: pa.Array | None, bad: BadValues) -> None:
        for index, reason in bad:
            if index in bad_rows or index in other_rows:
                continue
            value = None
            if raw is not None:
                item = raw[index].as_py()
                value = None if item is None else str(item)[:80]
            bad_rows[index] = RowProblem(line_of(index), column or "?", value, reason)

    values: dict[str, pa.Array] = {}
    for name in ("usage_start", "usage_end", "billing_period"):
        raw = source(name)
        values[name], bad = as_timestamp(raw, length)
        report(layout.column_for(name), raw, bad)
    for name in DECIMAL_FIELDS:
        if name == "amortized_cost" and not layout.amortized_direct:
            continue
        raw = source(name)
        if raw is None and name not in layout.required:
            values[name] = None
            continue
        values[name], bad = as_decimal(raw, length)
        report(layout.column_for(name), raw, bad)
    for name in TEXT_FIELDS:
        if name in ("aws_account_id", "payer_account_id") and layout.format is not CostFormat.FOCUS:
            raw = source(name)
            values[name], bad = as_account_id(raw, length)
            report(layout.column_for(name), raw, bad)
        else:
            values[name] = as_text(source(name), length)
    if layout.format is CostFormat.FOCUS:
        values["provider"] = provider_slugs(values["provider"])
        sub = pc.coalesce(values["aws_account_id"], values["billing_account_id"])
        values["aws_account_id"], bad = provider_account_ids(sub, values["provider"])
        column = layout.column_for("aws_account_id") or "BillingAccountId"
        report(column, sub, bad)
        no_account = pc.is_null(values["aws_account_id"])
        if pc.any(no_account).as_py():
            reason = "no account: SubAccountId and BillingAccountId are both empty (required)"
            report(column, None, [(i, reason) for i in pc.indices_nonzero(no_account).to_pylist()])
        values["payer_account_id"], _ = provider_account_ids(
            values["payer_account_id"], values["provider"]
        )
        values["charge_category"] = canonical(values["charge_category"], CHARGE_CATEGORIES)
        values["charge_frequency"] = canonical(values["charge_frequency"], CHARGE_FREQUENCIES)
    else:
        values["provider"] = pa.array(["aws"] * length, pa.string())
        values["charge_category"] = cur_charge_category(values["line_item_type"])
    values["product_name"] = product_names(source("product_map"), length)

    for name in layout.required:
        missing = pc.is_null(values[name])
        if pc.any(missing).as_py():
            column = layout.column_for(name) or name
            report(
                column,
                None,
                [
                    (i, "value is missing (required)")
                    for i in pc.indices_nonzero(missing).to_pylist()
                ],
            )

    if layout.tag_style is TagStyle.JSON and layout.tag_column in names:
        raw = batch.column(names.index(layout.tag_column))
        tags, bad = _tags_from_json(raw)
        report(layout.tag_column, raw, bad)
    elif layout.tag_style is TagStyle.COLUMNS and layout.tag_prefix:
        tags = _tags_from_columns(batch, layout.tag_columns(), layout.tag_prefix, length)
    else:
        tags = [None] * length

    _report_nul_characters(values, tags, layout, source, report)

    keep = [True] * length
    for index in (*bad_rows, *other_rows):
        keep[index] = False
    mask = pa.array(keep, pa.bool_())
    tag_arrays = _tag_columns(tags)
    table = _assemble(values, tag_arrays, layout, length).filter(mask)
    problems = sorted(bad_rows.values(), key=lambda p: (p.line is None, p.line or 0))
    return MappedBatch(
        table=table,
        rows_in=length,
        problems=problems[:max_problems],
        bad_rows=len(bad_rows),
        other_providers=other,
    )


def _squash(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch.isalnum())


def provider_slugs(array: pa.Array) -> pa.Array:
    """'Microsoft' -> azure, 'Oracle' -> oci; a provider CloudAudit does not know keeps its
    name, lower-cased; no provider column or value (an AWS FOCUS export) is aws."""
    encoded = pc.utf8_trim_whitespace(array).dictionary_encode()
    names = [
        None if name is None else PROVIDER_SLUGS.get(name.lower(), name.lower())
        for name in encoded.dictionary.to_pylist()
    ]
    slugs = pa.DictionaryArray.from_arrays(encoded.indices, pa.array(names, pa.string()))
    return pc.fill_null(slugs.cast(pa.string()), "aws")


def provider_account_ids(ids: pa.Array, providers: pa.Array) -> tuple[pa.Array, BadValues]:
    """A provider's account id as opaque text (trimmed). Only AWS ids that lost their leading
    zeros in a number column (1-11 digits) are put back to 12; anything longer is kept as the
    export wrote it (anonymised exports write 13 digits)."""
    text = pc.utf8_trim_whitespace(ids)
    short_aws = pc.and_(pc.equal(providers, "aws"), pc.match_substring_regex(text, r"^\d{1,11}$"))
    text = pc.if_else(pc.fill_null(short_aws, False), pc.utf8_lpad(text, 12, "0"), text)
    too_long = pc.fill_null(pc.greater(pc.utf8_length(text), MAX_ACCOUNT_ID_LENGTH), False)
    bad: BadValues = [
        (i, f"an account id longer than {MAX_ACCOUNT_ID_LENGTH} characters")
        for i in pc.indices_nonzero(too_long).to_pylist()
    ]
    empty = pc.fill_null(pc.equal(text, ""), False)
    text = pc.if_else(pc.or_(too_long, empty), pa.scalar(None, pa.string()), text)
    return text, bad


def canonical(array: pa.Array, allowed: tuple[str, ...]) -> pa.Array:
    """A FOCUS enumeration written in any case or punctuation -> the spec's spelling; values
    outside the spec are kept as written."""
    by_key = {_squash(v): v for v in allowed}
    encoded = array.dictionary_encode()
    names = [
        None if v is None else by_key.get(_squash(v), v.strip())
        for v in encoded.dictionary.to_pylist()
    ]
    return pa.DictionaryArray.from_arrays(encoded.indices, pa.array(names, pa.string())).cast(
        pa.string()
    )


def cur_charge_category(line_item_type: pa.Array) -> pa.Array:
    encoded = line_item_type.dictionary_encode()
    names = [
        None if v is None else _CUR_CATEGORIES.get(_squash(v), "Usage")
        for v in encoded.dictionary.to_pylist()
    ]
    return pa.DictionaryArray.from_arrays(encoded.indices, pa.array(names, pa.string())).cast(
        pa.string()
    )


def _assemble(
    values: dict[str, Any], tag_arrays: dict[str, pa.Array], layout: Layout, length: int
) -> pa.Table:
    unblended = values["unblended_cost"]
    # Unreadable required values are dropped later; keep arithmetic defined meanwhile.
    unblended_filled = (
        pc.fill_null(unblended, pa.scalar(0, DECIMAL)) if unblended.null_count else unblended
    )
    if layout.amortized_direct:
        direct = values.get("amortized_cost")
        amortized = unblended_filled if direct is None else pc.coalesce(direct, unblended_filled)
    else:
        amortized = amortized_cost(
            values["line_item_type"],
            unblended_filled,
            values.get("sp_effective_cost"),
            values.get("sp_total_commitment"),
            values.get("sp_used_commitment"),
            values.get("ri_effective_cost"),
            values.get("ri_unused_amortized_upfront_fee"),
            values.get("ri_unused_recurring_fee"),
            values.get("reservation_arn") if layout.column_for("reservation_arn") else None,
        )
    usage_start = values["usage_start"]
    usage_date = usage_start.cast(pa.date32())
    billing_period = values["billing_period"]
    month_start = pc.floor_temporal(usage_start, unit="month")
    billing_period = pc.coalesce(billing_period, month_start).cast(pa.date32())
    code = pc.coalesce(values["service_code"], values["product_code"])
    # One name per service whatever the source: the report's name, else CUR 2.0's product map,
    # else the product code named as AWS names it (domain/cur/services.py).
    service = pc.coalesce(values["service"], values["product_name"], names_for_codes(code))
    product_code = pc.coalesce(values["product_code"], code, values["service"])
    columns: dict[str, pa.Array] = {
        "billing_period": billing_period,
        "usage_date": usage_date,
        "usage_start": usage_start,
        "usage_end": values["usage_end"],
        "payer_account_id": values["payer_account_id"],
        "aws_account_id": values["aws_account_id"],
        "line_item_type": _line_item_type(values),
        "product_code": product_code,
        "service": service,
        "usage_type": values["usage_type"],
        "operation": values["operation"],
        "resource_id": values["resource_id"],
        "usage_amount": values["usage_amount"]
        if values.get("usage_amount") is not None
        else pa.nulls(length, DECIMAL),
        "unblended_cost": unblended,
        "blended_cost": _or_nulls(values.get("blended_cost"), length),
        "public_on_demand_cost": _or_nulls(values.get("public_on_demand_cost"), length),
        "net_unblended_cost": _or_nulls(values.get("net_unblended_cost"), length),
        "amortized_cost": amortized,
        "region": values["region"],
        "instance_type": values["instance_type"],
        "pricing_unit": values["pricing_unit"],
        "usage_unit": values["usage_unit"],
        "currency": pc.fill_null(values["currency"], "USD"),
        **tag_arrays,
        "provider": values["provider"],
        "charge_category": values["charge_category"],
        "charge_frequency": values["charge_frequency"],
    }
    return pa.table([columns[name] for name in OUTPUT_COLUMNS], schema=OUTPUT_SCHEMA)


def _or_nulls(array: pa.Array | None, length: int) -> pa.Array:
    return pa.nulls(length, DECIMAL) if array is None else array


def describe_format(layout: Layout) -> str:
    return {
        CostFormat.CUR: "legacy CUR",
        CostFormat.CUR2: "CUR 2.0",
        CostFormat.FOCUS: "FOCUS",
    }[layout.format]


def _line_item_type(values: dict[str, Any]) -> pa.Array:
    """CUR's line item type; for FOCUS, usage a commitment covered is named as CUR names it
    (CommitmentDiscountCategory Spend: a Savings Plan, Usage: a reservation) so coverage reads
    the same from every format. Unused commitment is not covered usage."""
    kind = values["line_item_type"]
    category = values.get("commitment_category")
    if category is None or category.null_count == len(category):
        return kind
    status = values.get("commitment_status")
    used = (
        pc.fill_null(pc.not_equal(pc.utf8_lower(status), "unused"), True)
        if status is not None
        else pa.array([True] * len(kind))
    )
    is_usage = pc.fill_null(pc.equal(kind, "Usage"), False)
    category = pc.utf8_lower(category)
    covered = pc.and_(is_usage, used)
    sp = pc.fill_null(pc.and_(covered, pc.equal(category, "spend")), False)
    ri = pc.fill_null(pc.and_(covered, pc.equal(category, "usage")), False)
    return pc.if_else(sp, "SavingsPlanCoveredUsage", pc.if_else(ri, "DiscountedUsage", kind))
