"""When rows are rejected: which files lost every row, and what to tell the person who has to fix
the file (the first rejections and, from their reasons, the likely fix).

A file whose every row is rejected is almost always the wrong file or a file changed on the way
(a spreadsheet's decimal commas, a local date format, a cut column): loading the rest of the
import without it would replace a billing period by part of it, so the whole import is refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FIRST_SHOWN = 5

# (what the reason says, what fixes it), checked in order; reasons come from values.py,
# mapping.py and the CSV reader.
_FIXES = (
    (
        "not a number",
        "amounts must be plain numbers with '.' as the decimal point (no currency sign, no "
        "thousands separator), as AWS writes them; a spreadsheet that saved the file with "
        "decimal commas changes them",
    ),
    ("not a finite number", "amounts must be finite numbers"),
    ("too large for an amount", "an amount of 10^18 or more is not a real charge"),
    (
        "not a date/time",
        "dates must be ISO dates as AWS writes them (2024-01-31T00:00:00Z or 2024-01-31)",
    ),
    (
        "not a 12-digit AWS account id",
        "account ids must be the 12-digit AWS account ids of the export",
    ),
    (
        "value is missing (required)",
        "the usage start, usage account and unblended cost columns must be filled on every row",
    ),
    (
        "fields where the header has",
        "every line must have as many fields as the header (a cut or re-saved file loses them)",
    ),
    ("NUL character", "the file holds NUL characters: export it again"),
    ("not a JSON object of tags", "the tags column must hold JSON objects as AWS writes them"),
)
GENERIC_FIX = "export the report again from AWS as it was written (CSV, CSV.gz or Parquet)"


@dataclass
class FileRows:
    """Rows of one file: read, loaded, rejected."""

    read: int = 0
    loaded: int = 0
    rejected: int = 0


def wholly_rejected(files: Mapping[str, FileRows]) -> list[str]:
    """The files that had rows and kept none of them (skipped rows of other providers are not
    rejections)."""
    return [name for name, rows in files.items() if rows.rejected and not rows.loaded]


def fix_for(reasons: Iterable[str]) -> str:
    """The fix for the most common kind of reason among these."""
    kinds: Counter[int] = Counter()
    for reason in reasons:
        for index, (phrase, _) in enumerate(_FIXES):
            if phrase in reason:
                kinds[index] += 1
                break
    if not kinds:
        return GENERIC_FIX
    return _FIXES[kinds.most_common(1)[0][0]][1]


def refusal(
    files: Mapping[str, FileRows], first: Sequence[str], reasons: Sequence[str], import_id: str
) -> str:
    """Why nothing was imported, the first rejections, and the fix."""
    names = wholly_rejected(files)
    listed = ", ".join(f"{name} ({files[name].rejected:,} rows)" for name in names)
    lines = [
        f"nothing was imported: every row of {listed} was rejected, so no file of this import "
        "was kept (a billing period is never replaced by part of it)",
        "first rejections:",
        *(f"  {line}" for line in first[:FIRST_SHOWN]),
        f"fix: {fix_for(reasons)}; then import the same files again "
        f"(every rejection is kept with import {import_id})",
    ]
    return "\n".join(lines)
