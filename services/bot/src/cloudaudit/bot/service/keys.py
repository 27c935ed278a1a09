"""Stored Slack credentials and the data key: re-encrypting them all under the current key
(`cloudaudit keys rotate`), and how many values each key holds (`cloudaudit keys status`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cloudaudit.bot.adapters.installation_store import SEALED_COLUMNS, TokenSealer
from cloudaudit.bot.adapters.unit_of_work import BotUnitOfWork

# (table, rows done, rows in the table): called after each row, for the CLI's progress lines.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TableRotation:
    table: str
    resealed: int  # rows with at least one value sealed again
    current: int  # rows already sealed with the current key only (or holding no credential)


async def rotate_tokens(
    uow: BotUnitOfWork, sealer: TokenSealer, progress: Progress
) -> list[TableRotation]:
    """Every stored credential sealed with the current key, in one transaction: the rows are
    locked, and either all of them are re-encrypted or, on a value that does not open,
    nothing is (the error names the row and the fix)."""
    rotated = []
    async with uow:
        for table in SEALED_COLUMNS:
            rotated.append(await _rotate_table(uow, sealer, table, progress))
        await uow.commit()
    return rotated


async def _rotate_table(
    uow: BotUnitOfWork, sealer: TokenSealer, table: str, progress: Progress
) -> TableRotation:
    rows = await uow.tokens.rows(table, for_update=True)
    resealed = 0
    for done, row in enumerate(rows, 1):
        changed = sealer.reseal(row)
        if changed:
            await uow.tokens.update(table, row.row_id, changed)
            resealed += 1
        progress(table, done, len(rows))
    return TableRotation(table, resealed, len(rows) - resealed)


async def key_usage(uow: BotUnitOfWork, held_key_ids: Sequence[str]) -> dict[str, int]:
    """How many stored values each key id seals (`plaintext` for values an earlier version
    stored unsealed). Every key held is listed, so one that no value needs any more shows 0
    (it may then be dropped from CLOUDAUDIT_DATA_KEY)."""
    values: Counter[str] = Counter({key_id: 0 for key_id in held_key_ids})
    async with uow:
        for table in SEALED_COLUMNS:
            for row in await uow.tokens.rows(table):
                values.update(TokenSealer.key_of(v) for v in row.values.values() if v is not None)
    return dict(values)
