"""Importing cost reports: stream every file, map and validate batches in a worker thread while
the previous batch is COPYed, replace each (account, billing period) the files cover in the
same transaction, then rebuild the touched days and publish them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pyarrow as pa
import pyarrow.compute as pc
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.account import ACCOUNT_SYNCED, AccountStatus, AccountSynced
from cloudaudit.ingest.adapters import cost_files
from cloudaudit.ingest.adapters.aws import AwsGateway
from cloudaudit.ingest.adapters.cost_files import Batch, CostFile
from cloudaudit.ingest.adapters.cost_store import month_start, to_csv, with_ids
from cloudaudit.ingest.adapters.leases import ImportLease
from cloudaudit.ingest.adapters.summary_store import ChangedDay
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork, StoreError
from cloudaudit.ingest.domain.arn import parse_role_arn
from cloudaudit.ingest.domain.connect import new_external_id
from cloudaudit.ingest.domain.cur.formats import CostFormat, Layout
from cloudaudit.ingest.domain.cur.mapping import MappedBatch, RowProblem, describe_format, map_batch
from cloudaudit.ingest.domain.cur.rejections import FileRows, refusal, wholly_rejected
from cloudaudit.ingest.domain.errors import IngestError, InvalidInput, RowsRejected
from cloudaudit.ingest.service.deps import IngestDeps
from cloudaudit.ingest.service.summaries import publish_changed_days

log = logging.getLogger(__name__)
MAX_PROBLEMS_KEPT = 1000


@dataclass
class ImportProgress:
    file: str
    bytes_done: int
    bytes_total: int
    rows_loaded: int
    rows_rejected: int


@dataclass
class ReportedProblem:
    file: str
    unit: str
    problem: RowProblem

    def describe(self) -> str:
        return f"{self.file}: {self.problem.describe(self.unit)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            self.unit: self.problem.line,
            "column": self.problem.column,
            "value": self.problem.value,
            "reason": self.problem.reason,
        }


@dataclass
class ImportReport:
    import_id: UUID
    files: dict[str, str] = field(default_factory=dict)  # name -> format
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    other_providers: Counter[str] = field(default_factory=Counter)  # none since every loads
    providers: Counter[str] = field(default_factory=Counter)  # rows loaded per provider
    problems: list[ReportedProblem] = field(default_factory=list)
    by_file: dict[str, FileRows] = field(default_factory=dict)
    periods: set[tuple[str, date]] = field(default_factory=set)
    days_published: int = 0
    interrupted: list[UUID] = field(default_factory=list)  # earlier imports found abandoned
    seconds: float = 0.0
    load_seconds: float = 0.0  # reading, checking and COPYing the rows (not summaries/events)

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    def add(
        self, name: str, unit: str, mapped: MappedBatch, parser_problems: list[RowProblem]
    ) -> None:
        rows = self.by_file.setdefault(name, FileRows())
        rows.read += mapped.rows_in + len(parser_problems)
        rows.loaded += mapped.table.num_rows
        rows.rejected += mapped.bad_rows + len(parser_problems)
        self.rows_read += mapped.rows_in + len(parser_problems)
        self.rows_loaded += mapped.table.num_rows
        self.rows_rejected += mapped.bad_rows + len(parser_problems)
        self.other_providers.update(mapped.other_providers)
        if mapped.table.num_rows:
            counted = mapped.table.group_by("provider").aggregate([("provider", "count")])
            self.providers.update(
                dict(
                    zip(
                        counted.column("provider").to_pylist(),
                        counted.column("provider_count").to_pylist(),
                        strict=True,
                    )
                )
            )
        room = MAX_PROBLEMS_KEPT - len(self.problems)
        if room > 0:
            found = sorted(
                [*parser_problems, *mapped.problems], key=lambda p: (p.line is None, p.line or 0)
            )
            self.problems.extend(ReportedProblem(name, unit, p) for p in found[:room])


ProgressCallback = Callable[[ImportProgress], None]
AsyncProgress = Callable[[ImportProgress], Awaitable[None]]

INTERRUPTED_REASON = (
    "the import stopped before it finished (its process was killed or lost the database), "
    "so none of its rows were kept; import the same files again to load them"
)


async def find_files(
    deps: IngestDeps, team_id: UUID, locations: list[str], account: str | None
) -> list[CostFile]:
    files: list[CostFile] = []
    for location in locations:
        if location.startswith("s3://"):
            credentials = await _s3_credentials(deps, team_id, account)
            s3 = await asyncio.to_thread(deps.aws.s3, credentials)
            files.extend(
                await asyncio.to_thread(
                    cost_files.s3_files, s3, location, AwsGateway.list_keys, AwsGateway.open_object
                )
            )
        else:
            files.extend(await asyncio.to_thread(cost_files.local_files, Path(location)))
    if not files:
        raise InvalidInput("give at least one cost file, directory or s3://bucket/prefix")
    return files


async def _s3_credentials(deps: IngestDeps, team_id: UUID, account: str | None) -> Any:
    """Read a customer's export bucket through their role (the team's connected account)."""
    async with deps.uow() as uow:
        rows = [r for r in await uow.repo.accounts_of_team(team_id) if r.role_arn]
        external_id = await uow.repo.existing_external_id(team_id)
    if account:
        rows = [r for r in rows if account in (r.aws_account_id, str(r.account_id))]
    if not rows:
        return None  # CloudAudit's own credentials (a bucket it was granted directly)
    if len(rows) > 1:
        raise InvalidInput(
            "the team has several connected accounts: say which one's role "
            "reads the bucket with --account AWS_ACCOUNT_ID"
        )
    role = parse_role_arn(rows[0].role_arn)
    return await asyncio.to_thread(deps.aws.assume, role, external_id or "")


@dataclass
class _Prepared:
    """One batch made ready in a worker thread: mapped, summarised, and (when every account
    in it is already known) encoded for COPY, while the previous batch is being written."""

    batch: Batch
    mapped: MappedBatch
    aws_account_ids: set[str]
    months: set[date]
    pairs: list[tuple[str, date]]
    day_ranges: list[tuple[str, date, date]]
    counts: dict[str, int]
    payload: bytes | None


def _prepare(
    batches: Iterator[Batch],
    layout: Layout,
    team_id: UUID,
    import_id: UUID,
    source: str,
    accounts: dict[str, UUID],
) -> _Prepared | None:
    batch = next(batches, None)
    if batch is None:
        return None
    mapped = map_batch(batch.batch, layout, batch.line_of)
    if not mapped.table.num_rows:
        return _Prepared(batch, mapped, set(), set(), [], [], {}, None)
    table = keyed(mapped.table)
    ids = set(pc.unique(table.column(KEY)).to_pylist())
    counts = table.group_by(KEY).aggregate([(KEY, "count")])
    payload = (
        to_csv(with_ids(mapped.table, team_id, import_id, source, accounts, table.column(KEY)))
        if ids <= accounts.keys()
        else None
    )
    return _Prepared(
        batch=batch,
        mapped=mapped,
        aws_account_ids=ids,
        months={month_start(d) for d in pc.unique(table.column("usage_date")).to_pylist()},
        pairs=_pairs(table),
        day_ranges=_day_ranges(table),
        counts=dict(
            zip(
                counts.column(KEY).to_pylist(),
                counts.column(f"{KEY}_count").to_pylist(),
                strict=True,
            )
        ),
        payload=payload,
    )


KEY = "account_key"  # provider and the provider's account id: an account within the team
KEY_SEPARATOR = "\x1f"  # no provider slug holds it; an id holding it is kept whole after it


def account_key(provider: str, provider_account_id: str) -> str:
    return f"{provider}{KEY_SEPARATOR}{provider_account_id}"


def split_key(key: str) -> tuple[str, str]:
    provider, _, provider_account_id = key.partition(KEY_SEPARATOR)
    return provider, provider_account_id


def keyed(table: pa.Table) -> pa.Table:
    """The mapped rows with their account key (the same provider id under two providers is two
    accounts)."""
    key = pc.binary_join_element_wise(
        table.column("provider"), table.column("aws_account_id"), KEY_SEPARATOR
    )
    return table.append_column(KEY, key)


def _pairs(table: pa.Table) -> list[tuple[str, date]]:
    grouped = table.group_by([KEY, "billing_period"]).aggregate([])
    return list(
        zip(
            grouped.column(KEY).to_pylist(),
            grouped.column("billing_period").to_pylist(),
            strict=True,
        )
    )


def _day_ranges(table: pa.Table) -> list[tuple[str, date, date]]:
    grouped = table.group_by(KEY).aggregate([("usage_date", "min"), ("usage_date", "max")])
    return list(
        zip(
            grouped.column(KEY).to_pylist(),
            grouped.column("usage_date_min").to_pylist(),
            grouped.column("usage_date_max").to_pylist(),
            strict=True,
        )
    )


class _Import:
    """State of one import transaction."""

    def __init__(self, deps: IngestDeps, team_id: UUID, report: ImportReport) -> None:
        self.deps, self.team_id, self.report = deps, team_id, report
        self.accounts: dict[str, UUID] = {}
        self.replaced: set[tuple[UUID, date]] = set()
        self.ranges: dict[UUID, tuple[date, date]] = {}
        self.rows_by_account: Counter[UUID] = Counter()

    def widen(self, account_id: UUID, first: date | None, last: date | None) -> None:
        if first is None or last is None:
            return
        known = self.ranges.get(account_id)
        self.ranges[account_id] = (
            (min(first, known[0]), max(last, known[1])) if known else (first, last)
        )

    async def load(self, uow: IngestUnitOfWork, prepared: _Prepared, source: str) -> None:
        for key in sorted(prepared.aws_account_ids - self.accounts.keys()):
            provider, provider_account_id = split_key(key)
            self.accounts[key] = await uow.repo.upsert_account(
                self.team_id,
                provider_account_id,
                provider,
                account_id=uuid4(),
                status=AccountStatus.IMPORT_ONLY.value,
            )
        await uow.costs.ensure_partitions(prepared.months)
        for aws_account_id, period in prepared.pairs:
            key = (self.accounts[aws_account_id], period)
            self.report.periods.add((split_key(aws_account_id)[1], period))
            if key not in self.replaced:
                previous = await uow.costs.delete_billing_period(*key)
                self.widen(key[0], previous.first_day, previous.last_day)
                self.replaced.add(key)
        for aws_account_id, first, last in prepared.day_ranges:
            self.widen(self.accounts[aws_account_id], first, last)
        for aws_account_id, count in prepared.counts.items():
            self.rows_by_account[self.accounts[aws_account_id]] += count
        payload = prepared.payload
        if payload is None:  # the batch named an account first seen just now
            table = prepared.mapped.table
            payload = await asyncio.to_thread(
                lambda: to_csv(
                    with_ids(
                        table,
                        self.team_id,
                        self.report.import_id,
                        source,
                        self.accounts,
                        keyed(table).column(KEY),
                    )
                )
            )
        await uow.costs.copy_line_items(payload)


async def interrupt_abandoned_imports(deps: IngestDeps, team_id: UUID | None = None) -> list[UUID]:
    """Imports left `running` by a process that died (kill -9, crash, lost database
    connection) become `interrupted`; the imports of live processes are left alone."""
    async with deps.uow() as uow:
        found = await uow.repo.interrupt_abandoned_imports(team_id, INTERRUPTED_REASON)
        await uow.commit()
    for row in found:
        log.warning(
            "import found interrupted",
            extra={
                "import_id": str(row.import_id),
                "team_id": str(row.team_id),
                "last_heartbeat": row.heartbeat_at.isoformat() if row.heartbeat_at else None,
            },
        )
    return [row.import_id for row in found]


async def import_costs(
    deps: IngestDeps,
    team_id: UUID,
    locations: list[str],
    account: str | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import cost files (local paths or s3:// prefixes) for a team in one transaction, under
    a lease that tells a later import whether this one is still alive."""
    started = time.monotonic()
    files = await find_files(deps, team_id, locations, account)
    report = ImportReport(import_id=uuid4())
    async with deps.leases.import_lease(report.import_id) as lease:
        report.interrupted = await interrupt_abandoned_imports(deps, team_id)
        await _begin(deps, team_id, report.import_id, locations)
        try:
            await _run(deps, team_id, files, report, _beating(lease, progress))
        except IngestError as exc:
            await _fail(deps, report.import_id, exc.message, report)
            raise
        except (StoreError, OSError) as exc:  # the database or a file went away mid-way
            with contextlib.suppress(StoreError, OSError):
                await _fail(deps, report.import_id, f"stopped by an error: {type(exc).__name__}")
            raise
    report.seconds = time.monotonic() - started
    log.info(
        "cost import done",
        extra={
            "team_id": str(team_id),
            "import_id": str(report.import_id),
            "rows": report.rows_loaded,
            "rejected": report.rows_rejected,
            "rows_per_s": round(report.rows_per_second),
        },
    )
    return report


async def _begin(deps: IngestDeps, team_id: UUID, import_id: UUID, locations: list[str]) -> None:
    """The import, `running`, committed before any row is read (so it can be found later)."""
    async with deps.uow() as uow:
        await uow.repo.external_id(team_id, new_external_id())  # the team exists for ingest
        now = utcnow()
        await uow.repo.add_import(
            import_id=import_id,
            team_id=team_id,
            started_at=now,
            heartbeat_at=now,
            status="running",
            sources=locations,
            formats={},
        )
        await uow.commit()


def _beating(lease: ImportLease, progress: ProgressCallback | None) -> AsyncProgress:
    """Report progress to the caller and, at most every few seconds, beat the lease."""

    async def report(state: ImportProgress) -> None:
        if progress is not None:
            progress(state)
        await lease.beat()

    return report


async def _fail(
    deps: IngestDeps, import_id: UUID, reason: str, report: ImportReport | None = None
) -> None:
    """The import failed: why, and the rows it had rejected by then (none of its rows kept)."""
    rejected = report.problems if report else []
    async with deps.uow() as uow:
        await uow.repo.finish_import(
            import_id,
            status="failed",
            rows_rejected=report.rows_rejected if report else 0,
            problems=[{"reason": reason}, *(p.as_dict() for p in rejected)],
        )
        await uow.commit()


def refuse_wholly_rejected(report: ImportReport) -> None:
    """A file that kept none of its rows fails the whole import (see domain/cur/rejections)."""
    if not wholly_rejected(report.by_file):
        return
    refused = set(wholly_rejected(report.by_file))
    problems = [p for p in report.problems if p.file in refused]
    raise RowsRejected(
        refusal(
            report.by_file,
            [p.describe() for p in problems],
            [p.problem.reason for p in problems],
            str(report.import_id),
        )
    )


async def _run(
    deps: IngestDeps,
    team_id: UUID,
    files: list[CostFile],
    report: ImportReport,
    progress: AsyncProgress,
) -> None:
    """Every file, batch by batch, then the summaries and events: one transaction."""
    load_started = time.monotonic()
    async with deps.uow() as uow:
        state = _Import(deps, team_id, report)
        for row in await uow.repo.accounts_of_team(team_id):
            state.accounts[account_key(row.provider, row.aws_account_id)] = row.account_id
        reading = _Reading(sum(f.size for f in files))
        for cost_file in files:
            await _load_file(deps, uow, state, cost_file, reading, progress)
        refuse_wholly_rejected(report)
        report.load_seconds = time.monotonic() - load_started
        await _announce(deps, uow, state)
        await uow.repo.finish_import(
            report.import_id,
            status="succeeded",
            formats=report.files,
            rows_loaded=report.rows_loaded,
            rows_rejected=report.rows_rejected,
            rows_other_providers=sum(report.other_providers.values()),
            problems=[p.as_dict() for p in report.problems],
            periods=sorted([a, p.isoformat()] for a, p in report.periods),
        )
        await uow.commit()


@dataclass
class _Reading:
    """Bytes of the import's files read so far, for progress."""

    total: int
    done: int = 0

    def add(self, size: int) -> None:
        self.done += size


async def _load_file(
    deps: IngestDeps,
    uow: IngestUnitOfWork,
    state: _Import,
    cost_file: CostFile,
    reading: _Reading,
    progress: AsyncProgress,
) -> None:
    """One file: each batch is read, checked and encoded in a worker thread while the one
    before it is written."""
    report, team_id = state.report, state.team_id
    layout, batches = await asyncio.to_thread(
        cost_files.open_batches, cost_file, deps.settings.import_block_bytes, reading.add
    )
    report.files[cost_file.name] = describe_format(layout)
    source = "focus" if layout.format is CostFormat.FOCUS else "cur"

    def prepare() -> asyncio.Future[_Prepared | None]:
        snapshot = dict(state.accounts)  # taken here: the worker never sees it change
        return asyncio.ensure_future(
            asyncio.to_thread(
                _prepare, batches, layout, team_id, report.import_id, source, snapshot
            )
        )

    pending = prepare()
    while (prepared := await pending) is not None:
        pending = prepare()
        report.add(cost_file.name, prepared.batch.unit, prepared.mapped, prepared.batch.problems)
        if prepared.mapped.table.num_rows:
            await state.load(uow, prepared, source)
        await progress(
            ImportProgress(
                cost_file.name, reading.done, reading.total, report.rows_loaded,
                report.rows_rejected,
            )
        )  # fmt: skip


async def _announce(deps: IngestDeps, uow: IngestUnitOfWork, state: _Import) -> None:
    """Rebuild the days the import touched; one event per changed day, one per account."""
    report, team_id = state.report, state.team_id
    changed: list[ChangedDay] = []
    if state.ranges:
        first = min(r[0] for r in state.ranges.values())
        last = max(r[1] for r in state.ranges.values())
        changed = await uow.costs.rebuild_summaries(
            list(state.ranges), first, last + timedelta(days=1), deps.settings.top_drivers
        )
    accounts = {row.account_id: row for row in await uow.repo.accounts_of_team(team_id)}
    report.days_published = await publish_changed_days(
        uow, changed, accounts, utcnow().date(), report.import_id
    )
    for account_id, rows in state.rows_by_account.items():
        if not accounts[account_id].has_aws_id:
            continue  # account.v1.synced carries an AWS account id; see the v2 cost event
        first, last = state.ranges[account_id]
        await uow.emit(
            ACCOUNT_SYNCED,
            AccountSynced(
                team_id=team_id,
                account_id=account_id,
                aws_account_id=accounts[account_id].aws_account_id,
                source="cur",
                days=(last - first).days + 1,
                rows=rows,
            ),
        )
