"""Cost Explorer sync of one account: the window, the paged pulls, the replacement of the
pulled days, summaries and events; and the team-wide on-demand and scheduled syncs."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from cloudaudit.common.actors import Command, authorize, require_owner_team
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.account import (
    ACCOUNT_SYNCED,
    AccountStatus,
    AccountSynced,
    SyncReply,
    SyncRequest,
)
from cloudaudit.common.events.identity import Action
from cloudaudit.ingest.adapters.aws import CallStats
from cloudaudit.ingest.adapters.rows import Account
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.domain.arn import RoleArn, parse_role_arn
from cloudaudit.ingest.domain.cost_explorer import (
    SERVICE_REGION,
    SERVICE_USAGE_TYPE,
    CeAnswerInvalid,
    CeDay,
    Clipped,
    Grouping,
    clip_to_window,
    cost_and_usage_request,
    merge_pages,
    sync_window,
    tag_grouping,
)
from cloudaudit.ingest.domain.errors import (
    AwsUnavailable,
    IngestError,
    InvalidInput,
    NotFound,
    SyncFailed,
    SyncInProgress,
)
from cloudaudit.ingest.service.deps import IngestDeps
from cloudaudit.ingest.service.summaries import publish_changed_days
from cloudaudit.ingest.settings import CE_MAX_HISTORY_DAYS

log = logging.getLogger(__name__)
MAX_PAGES_PER_GROUPING = 1000  # a runaway NextPageToken loop must end
SCHEDULER_BATCH = 10


@dataclass
class SyncOutcome:
    account_id: UUID
    aws_account_id: str
    start: date
    end: date
    ce_requests: int
    rows: int
    days_changed: int
    throttled_retries: int
    clipped: dict[str, str] = field(default_factory=dict)  # grouping -> days left out


def next_sync_at(now: datetime, account_id: UUID, interval_minutes: int) -> datetime:
    """Every interval, each account at its own offset inside the first tenth of it, so many
    accounts spread their Cost Explorer load instead of syncing at the same minute."""
    spread = interval_minutes * 60 * 0.1 * ((account_id.int % 997) / 997)
    return now + timedelta(minutes=interval_minutes, seconds=spread)


async def _pull(
    deps: IngestDeps,
    client: Any,
    role: RoleArn,
    start: date,
    end: date,
    grouping: Grouping,
    stats: CallStats,
) -> tuple[dict[date, CeDay], Clipped]:
    pages: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES_PER_GROUPING):
        request = cost_and_usage_request(start, end, grouping, token)
        page = await asyncio.to_thread(deps.aws.cost_and_usage_page, client, request, stats, role)
        pages.append(page)
        token = page.get("NextPageToken")
        if not token:
            break
    return clip_to_window(merge_pages(pages, grouping), start, end)


async def sync_account(deps: IngestDeps, account_id: UUID, days: int | None = None) -> SyncOutcome:
    async with deps.leases.account_sync(account_id) as locked:
        if not locked:
            raise SyncInProgress(
                "a sync of this account is already running; it will finish "
                "on its own, try again in a minute"
            )
        return await _sync_locked(deps, account_id, days)


@dataclass(frozen=True)
class _Started:
    """What a sync read when it began, in the transaction that marked the account syncing."""

    account: Account
    external_id: str
    oldest_estimated: date | None
    tag_keys: list[str]


async def _begin(deps: IngestDeps, account_id: UUID, run_id: UUID) -> _Started:
    async with deps.uow() as uow:
        account = await uow.repo.account(account_id)
        if account is None:
            raise NotFound(f"no account {account_id}")
        if account.status == AccountStatus.DISCONNECTED.value:
            raise InvalidInput(
                f"account {account.aws_account_id} was disconnected; connect it again with "
                "`cloudaudit accounts connect` (or `/cloudaudit connect`) to sync it"
            )
        if not account.role_arn or account.status == AccountStatus.IMPORT_ONLY.value:
            raise InvalidInput(
                f"account {account.aws_account_id} is known only from imported files; connect "
                f"it with `cloudaudit accounts connect` to sync it from Cost Explorer"
            )
        started = _Started(
            account=account,
            external_id=await uow.repo.existing_external_id(account.team_id) or "",
            oldest_estimated=await uow.repo.oldest_estimated_day(account_id),
            tag_keys=await uow.repo.tag_keys(account.team_id),
        )
        await uow.repo.add_run(run_id, account.team_id, account_id, "cost_explorer")
        await uow.repo.update_account(account_id, status=AccountStatus.SYNCING.value)
        await uow.commit()
    return started


@dataclass
class _Pulled:
    """What Cost Explorer answered for the window, per grouping, and what was clipped."""

    start: date
    end: date
    results: dict[str, dict[date, CeDay]] = field(default_factory=dict)
    clipped: dict[str, Clipped] = field(default_factory=dict)


async def _pull_all(
    deps: IngestDeps, begun: _Started, start: date, end: date, stats: CallStats
) -> _Pulled:
    """Every grouping over [start, end): service x region, service x usage type, each tag."""
    pulled = _Pulled(start, end)
    if start >= end:
        return pulled
    assert begun.account.role_arn is not None  # _begin refuses accounts without a role
    role = parse_role_arn(begun.account.role_arn)
    credentials = await asyncio.to_thread(deps.aws.assume, role, begun.external_id)
    client = await asyncio.to_thread(deps.aws.cost_explorer, credentials)
    for grouping in (SERVICE_REGION, SERVICE_USAGE_TYPE, *map(tag_grouping, begun.tag_keys)):
        days, clipped = await _pull(deps, client, role, start, end, grouping, stats)
        pulled.results[grouping.name] = days
        if clipped:
            pulled.clipped[grouping.name] = clipped
            _warn_clipped(begun.account, pulled, grouping.name)
    return pulled


def _warn_clipped(account: Account, pulled: _Pulled, grouping: str) -> None:
    clipped = pulled.clipped[grouping]
    log.warning(
        f"Cost Explorer answered {clipped.describe()} {pulled.start}..{pulled.end} (exclusive) "
        f"for {grouping}: left out, not stored",
        extra={
            "team_id": str(account.team_id),
            "account": account.aws_account_id,
            "grouping": grouping,
            "clipped_days": len(clipped.days),
            "clipped_first": str(min(clipped.days)),
            "clipped_last": str(max(clipped.days)),
        },
    )


async def _sync_locked(deps: IngestDeps, account_id: UUID, days: int | None) -> SyncOutcome:
    """Whatever stops a begun sync (AWS, a refused answer, the database, a bug, cancellation)
    finishes its run as failed with its requests counted and leaves the account `failed` with
    the error: never `syncing` with a run `running`."""
    run_id = uuid4()
    begun = await _begin(deps, account_id, run_id)
    stats = CallStats()
    try:
        return await _pull_and_store(deps, begun, run_id, days, stats)
    except BaseException as exc:
        error = _sync_error(exc, begun.account)
        await _record_sync_failure(deps, begun.account, run_id, error, stats)
        if error is exc or not isinstance(exc, Exception):
            raise
        raise error from exc


async def _pull_and_store(
    deps: IngestDeps, begun: _Started, run_id: UUID, days: int | None, stats: CallStats
) -> SyncOutcome:
    today = utcnow().date()
    start, end = sync_window(
        today,
        deps.settings.initial_sync_days,
        begun.account.last_synced_day,
        begun.oldest_estimated,
        deps.settings.restate_days,
        CE_MAX_HISTORY_DAYS,
        days,
    )
    pulled = await _pull_all(deps, begun, start, end, stats)
    return await _store(deps, begun.account, run_id, pulled, stats, today)


def _sync_error(exc: BaseException, account: Account) -> IngestError:
    """The error the account and the caller are told, with what happens next."""
    if isinstance(exc, IngestError):
        return exc
    again = (
        "nothing of this sync was stored; it runs again at the next interval "
        "(or now: `cloudaudit sync-costs`)"
    )
    if isinstance(exc, CeAnswerInvalid):
        return AwsUnavailable(f"Cost Explorer's answer was refused: {exc}; {again}")
    if not isinstance(exc, Exception):
        return SyncFailed(f"the sync of {account.aws_account_id} was interrupted; {again}")
    log.error(
        "cost explorer sync stopped by an unexpected error",
        exc_info=exc,
        extra={"team_id": str(account.team_id), "account": account.aws_account_id},
    )
    return SyncFailed(
        f"the sync of {account.aws_account_id} stopped: {type(exc).__name__}: "
        f"{str(exc)[:200]}; {again}; if it repeats, the ingest service's log has the details"
    )


async def _record_sync_failure(
    deps: IngestDeps, account: Account, run_id: UUID, exc: IngestError, stats: CallStats
) -> None:
    step = getattr(exc, "step", None)
    try:
        async with deps.uow() as uow:
            await uow.repo.finish_run(
                run_id, "failed", error=exc.message, ce_requests=stats.requests
            )
            await uow.repo.update_account(
                account.account_id,
                status=AccountStatus.FAILED.value,
                last_error=exc.message,
                last_error_step=step.value if step else None,
                next_sync_at=next_sync_at(
                    utcnow(), account.account_id, deps.settings.sync_interval_minutes
                ),
            )
            await uow.commit()
    except Exception:  # the database is gone too: say so, and let the first error through
        log.exception("could not record the failed sync", extra={"run_id": str(run_id)})
    log.warning(
        "cost explorer sync failed",
        extra={
            "team_id": str(account.team_id),
            "account": account.aws_account_id,
            "code": exc.code,
            "error": exc.message[:300],
            "ce_requests": stats.requests,
        },
    )


async def _store(
    deps: IngestDeps,
    account: Account,
    run_id: UUID,
    pulled: _Pulled,
    stats: CallStats,
    today: date,
) -> SyncOutcome:
    """Replace the window's Cost Explorer days, rebuild and announce the changed days, close
    the run: one transaction."""
    account_id, start, end = account.account_id, pulled.start, pulled.end
    rows = 0
    async with deps.uow() as uow:
        for grouping, days in pulled.results.items():
            costs = [cost for day in days.values() for cost in day.costs]
            rows += await uow.costs.replace_ce_costs(
                account_id, account.team_id, run_id, grouping, start, end, costs
            )
        answered = [(account_id, day) for day in pulled.results.get(SERVICE_REGION.name, {})]
        changed = await uow.costs.rebuild_summaries(
            [account_id], start, end, deps.settings.top_drivers, answered
        )
        await publish_changed_days(uow, changed, {account_id: account}, today, run_id)
        await _finish(uow, deps, account, run_id, pulled, rows, stats)
        await uow.commit()
    clipped = {grouping: c.describe() for grouping, c in pulled.clipped.items()}
    outcome = SyncOutcome(
        account_id,
        account.aws_account_id,
        start,
        end,
        stats.requests,
        rows,
        len(changed),
        stats.throttled_retries,
        clipped,
    )
    log.info(
        "cost explorer sync done",
        extra={"team_id": str(account.team_id), "account": account.aws_account_id}
        | {"start": str(start), "end": str(end), "ce_requests": stats.requests}
        | {"rows": rows, "changed": len(changed)},
    )
    return outcome


async def _finish(
    uow: IngestUnitOfWork,
    deps: IngestDeps,
    account: Account,
    run_id: UUID,
    pulled: _Pulled,
    rows: int,
    stats: CallStats,
) -> None:
    """The run succeeded, the account is connected and due again, `account.v1.synced`."""
    now, start, end = utcnow(), pulled.start, pulled.end
    window = {"start": start.isoformat(), "end": end.isoformat()}
    clipped = {g: [d.isoformat() for d in c.days] for g, c in pulled.clipped.items()}
    await uow.repo.finish_run(
        run_id,
        "succeeded",
        ce_requests=stats.requests,
        days=(end - start).days,
        rows=rows,
        details={**window, "throttled_retries": stats.throttled_retries}
        | ({"clipped_days": clipped} if clipped else {}),
    )
    synced_to = {"last_synced_day": end - timedelta(days=1)} if start < end else {}
    await uow.repo.update_account(
        account.account_id,
        status=AccountStatus.CONNECTED.value,
        last_error=None,
        last_error_step=None,
        last_sync_at=now,
        next_sync_at=next_sync_at(now, account.account_id, deps.settings.sync_interval_minutes),
        **synced_to,
    )
    await uow.emit(
        ACCOUNT_SYNCED,
        AccountSynced(
            team_id=account.team_id,
            account_id=account.account_id,
            aws_account_id=account.aws_account_id,
            source="cost_explorer",
            days=(end - start).days,
            rows=rows,
            ce_requests=stats.requests,
        ),
    )


async def _run_sync(deps: IngestDeps, account_id: UUID, days: int | None) -> None:
    try:
        await sync_account(deps, account_id, days)
    except SyncInProgress:
        log.info("sync skipped: already running", extra={"account_id": str(account_id)})
    except IngestError as exc:
        log.warning(
            "sync failed",
            extra={"account_id": str(account_id), "code": exc.code, "error": exc.message[:300]},
        )


def start_sync(deps: IngestDeps, account_id: UUID, days: int | None = None) -> None:
    """Run a sync in the background (the reply does not wait for Cost Explorer)."""
    deps.syncs.start(lambda: _run_sync(deps, account_id, days))


async def request_sync(
    cmd: Command[SyncRequest], uow: IngestUnitOfWork, deps: IngestDeps
) -> SyncReply:
    """Syncs cost Cost Explorer requests (billed to the team): owners and admins."""
    request, actor = cmd.request, cmd.actor
    async with uow:
        await authorize(uow, actor, Action.CONNECT_ACCOUNT, source="ingest")
        rows = await uow.repo.accounts_of_team(actor.team_id)
    if request.account_id is not None:
        rows = [r for r in rows if r.account_id == request.account_id]
        require_owner_team(actor, actor.team_id if rows else None, "account", request.account_id)
    started = [
        r.account_id
        for r in rows
        if r.role_arn
        and r.status not in (AccountStatus.IMPORT_ONLY.value, AccountStatus.DISCONNECTED.value)
    ]
    skipped = [r.account_id for r in rows if r.account_id not in started]
    for account_id in started:
        start_sync(deps, account_id, request.days)
    return SyncReply(started=started, skipped=skipped)


async def start_due_syncs(deps: IngestDeps) -> int:
    """Start the syncs that are due; returns how many."""
    now = deps.now()
    hold = now + timedelta(minutes=deps.settings.sync_interval_minutes)
    async with deps.uow() as uow:
        due = await uow.repo.claim_due_accounts(now, hold, SCHEDULER_BATCH)
        await uow.commit()
    for row in due:
        start_sync(deps, row.account_id)
    return len(due)


async def scheduler_loop(deps: IngestDeps) -> None:
    while True:
        try:
            await start_due_syncs(deps)
        except Exception as exc:  # the loop must outlive a database blip
            log.warning("sync scheduler tick failed", extra={"error": str(exc)[:300]})
        await asyncio.sleep(deps.settings.scheduler_tick_s)
