"""Recommendation handlers: refresh from the inventory, decide, list. Transactions commit here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from cloudaudit.analytics.adapters.llm import TextWriter, WrittenText
from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.domain.recommendations import lifecycle
from cloudaudit.analytics.domain.recommendations.lifecycle import (
    DECISION_ACTIONS,
    RecommendationState,
    TransitionNotAllowed,
)
from cloudaudit.analytics.domain.recommendations.model import Candidate, RecType
from cloudaudit.analytics.domain.recommendations.prices import PriceTable
from cloudaudit.analytics.domain.recommendations.rates import NO_REPORT, CostReport
from cloudaudit.analytics.domain.recommendations.rules import evaluate
from cloudaudit.analytics.domain.recommendations.text import (
    RecommendationText,
    fact_sheet,
    sheet_hash,
)
from cloudaudit.common.bus import BusUnavailable
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.cost import CostDayRecorded
from cloudaudit.common.events.identity import AuthorizeReply, AuthorizeRequest
from cloudaudit.common.events.inventory import (
    AccountInventory,
    InventoryReply,
    InventoryRequest,
    ResourceCost,
    ResourceCostsReply,
    ResourceCostsRequest,
)
from cloudaudit.common.events.recommendation import (
    RECOMMENDATION_CREATED,
    RECOMMENDATION_DECIDED,
    RECOMMENDATION_REALIZED,
    DecideReply,
    DecideRequest,
    RecommendationCreated,
    RecommendationDecided,
    RecommendationRealized,
    RecommendationsReply,
    RecommendationsRequest,
    RecommendationSummary,
    RefreshReply,
    RefreshRequest,
)
from cloudaudit.common.money import to_cents

log = logging.getLogger(__name__)
SOURCE = "analytics"
# A runaway cursor must not loop forever (5,000 resources a page: 50 million resources).
MAX_PAGES = 10_000


@dataclass(frozen=True)
class RecommendationDeps:
    uow: Callable[[], RecommendationUnitOfWork]
    inventory: Callable[[InventoryRequest], Awaitable[InventoryReply]]
    authorize: Callable[[AuthorizeRequest], Awaitable[AuthorizeReply]]
    writer: TextWriter
    prices: PriceTable
    metric_days: int = 14
    llm_concurrency: int = 4
    resource_costs: Callable[[ResourceCostsRequest], Awaitable[ResourceCostsReply]] | None = None


@dataclass
class _Texts:
    """Text per fact-sheet hash, and what producing them took."""

    by_hash: dict[str, WrittenText] = field(default_factory=dict)
    new: dict[str, WrittenText] = field(default_factory=dict)
    llm: int = 0
    template: int = 0
    cached: int = 0


# -- refresh ----------------------------------------------------------------------------------
async def refresh(request: RefreshRequest, deps: RecommendationDeps) -> RefreshReply:
    """Re-evaluate the team's accounts: create, refresh, expire, verify; never duplicate."""
    try:
        inventory = await fetch_inventory(request, deps)
    except BusUnavailable as exc:
        return RefreshReply.failure("ingest_unavailable", str(exc))  # type: ignore[return-value]
    if not inventory.ok:
        assert inventory.error is not None
        return RefreshReply.failure(inventory.error.code, inventory.error.message)  # type: ignore[return-value]
    now = utcnow()
    problems = [p for inv in inventory.accounts for p in inv.problems]
    reports: dict[UUID, CostReport] = {}
    for inv in inventory.accounts:
        reports[inv.account_id], problem = await cost_report(request.team_id, inv, deps)
        problems += [problem] if problem else []
    found = {
        inv.account_id: evaluate(inv, deps.prices, now, reports[inv.account_id])
        for inv in inventory.accounts
    }
    texts = await _write_texts(request.team_id, [c for cs in found.values() for c in cs], deps)
    counts: dict[str, int] = dict.fromkeys(
        ("created", "refreshed", "expired", "implemented", "reopened"), 0
    )
    async with deps.uow() as uow:
        await uow.repo.lock_team(request.team_id)
        for inv in inventory.accounts:
            await _apply(
                uow,
                request.team_id,
                inv,
                found[inv.account_id],
                texts,
                deps,
                now,
                counts,
                reports[inv.account_id],
            )
        for text_hash, written in texts.new.items():
            if written.cacheable:
                await uow.repo.cache_text(
                    text_hash=text_hash,
                    model=written.model,
                    title=written.text.title,
                    description=written.text.description,
                    source=written.text.source,
                    fallback_reason=written.text.fallback_reason,
                    prompt_tokens=written.prompt_tokens,
                    completion_tokens=written.completion_tokens,
                    created_at=now,
                )
        open_total, open_savings = await uow.repo.open_totals(request.team_id)
        await uow.commit()
    return RefreshReply(
        accounts=len(inventory.accounts),
        open_total=open_total,
        open_monthly_savings=to_cents(Decimal(open_savings)),
        llm_texts=texts.llm,
        template_texts=texts.template,
        cached_texts=texts.cached,
        problems=problems,
        **counts,
    )


async def fetch_inventory(request: RefreshRequest, deps: RecommendationDeps) -> InventoryReply:
    """Every page of the inventory, joined per account (the first page holds each account's
    regions, reserved capacity, findings and problems; later pages more resources)."""
    ask = InventoryRequest(
        team_id=request.team_id, account_id=request.account_id, metric_days=deps.metric_days
    )
    reply = await deps.inventory(ask)
    if not reply.ok:
        return reply
    accounts = {a.account_id: a for a in reply.accounts}
    extra: dict[UUID, dict[str, list[Any]]] = {}
    pages = 1
    while reply.next_cursor is not None and pages < MAX_PAGES:
        reply = await deps.inventory(ask.model_copy(update={"cursor": reply.next_cursor}))
        if not reply.ok:
            return reply
        pages += 1
        for part in reply.accounts:
            accounts.setdefault(part.account_id, part.model_copy(update=_EMPTY_RESOURCES))
            lists = extra.setdefault(part.account_id, {k: [] for k in _EMPTY_RESOURCES})
            for kind in _EMPTY_RESOURCES:
                lists[kind] += getattr(part, kind)
    joined = [
        inv.model_copy(
            update={
                kind: getattr(inv, kind) + extra.get(inv.account_id, {}).get(kind, [])
                for kind in _EMPTY_RESOURCES
            }
        )
        for inv in accounts.values()
    ]
    return InventoryReply(accounts=joined)


_EMPTY_RESOURCES: dict[str, list[Any]] = {
    "instances": [],
    "volumes": [],
    "snapshots": [],
    "addresses": [],
}


async def cost_report(
    team_id: UUID, inv: AccountInventory, deps: RecommendationDeps
) -> tuple[CostReport, str | None]:
    """The account's resources in the cost report over the metric window; without one (not
    imported, ingest unreachable) the rules use the price table and the reply says why."""
    if deps.resource_costs is None:
        return NO_REPORT, None
    resources: dict[str, ResourceCost] = {}
    first: ResourceCostsReply | None = None
    after: str | None = None
    for _ in range(MAX_PAGES):
        try:
            reply = await deps.resource_costs(
                ResourceCostsRequest(
                    team_id=team_id,
                    aws_account_id=inv.aws_account_id,
                    window_days=deps.metric_days,
                    after=after,
                )
            )
        except BusUnavailable as exc:
            return NO_REPORT, f"cost report of {inv.aws_account_id} unavailable ({exc}); " + (
                "savings use the price table"
            )
        if not reply.ok:
            message = reply.error.message if reply.error else "unknown error"
            return NO_REPORT, f"cost report of {inv.aws_account_id}: {message}"
        first = first or reply
        resources.update((r.resource_id, r) for r in reply.resources)
        after = reply.next_after
        if after is None:
            break
    if first is None or first.window_start is None:
        return NO_REPORT, None
    return (
        CostReport(first.window_days, first.window_start, resources, first.coverage),
        None,
    )


async def _write_texts(
    team_id: UUID, candidates: list[Candidate], deps: RecommendationDeps
) -> _Texts:
    """Text for every fact sheet: kept if unchanged, from the cache, else written now."""
    texts = _Texts()
    sheets = {sheet_hash(s, deps.writer.model): (c, s) for c in candidates for s in [fact_sheet(c)]}
    async with deps.uow() as uow:
        cached = await uow.repo.cached_texts(list(sheets))
    for text_hash, row in cached.items():
        texts.by_hash[text_hash] = WrittenText(
            RecommendationText(
                row["title"], row["description"], row["source"], row["fallback_reason"]
            ),
            row["model"],
            row["prompt_tokens"],
            row["completion_tokens"],
        )
        texts.cached += 1
    limit = asyncio.Semaphore(deps.llm_concurrency)

    async def write(text_hash: str, candidate: Candidate, sheet: dict[str, Any]) -> None:
        async with limit:
            written = await deps.writer.write(candidate, sheet)
        texts.by_hash[text_hash] = texts.new[text_hash] = written
        if written.text.source == "llm":
            texts.llm += 1
        else:
            texts.template += 1

    await asyncio.gather(*(write(h, c, s) for h, (c, s) in sheets.items() if h not in cached))
    return texts


async def _apply(
    uow: RecommendationUnitOfWork,
    team_id: UUID,
    inv: AccountInventory,
    candidates: list[Candidate],
    texts: _Texts,
    deps: RecommendationDeps,
    now: datetime,
    counts: dict[str, int],
    report: CostReport = NO_REPORT,
) -> None:
    existing = {
        (r["resource_id"], r["type"]): r for r in await uow.repo.active(team_id, [inv.account_id])
    }
    for candidate in candidates:
        row = existing.pop(candidate.key, None)
        sheet = fact_sheet(candidate)
        text_hash = sheet_hash(sheet, deps.writer.model)
        written = texts.by_hash[text_hash]
        if row is None:
            await _create(uow, team_id, inv, candidate, sheet, text_hash, written, now)
            counts["created"] += 1
            continue
        outcome = _reconcile(row, True, inv, deps, now, report)
        if outcome.kind == "implement":
            await _implement(uow, row, outcome, now)
            counts["implemented"] += 1
            continue
        values = _refreshed_values(candidate, sheet, text_hash, written, now)
        if outcome.kind == "reopen":
            values.update(status=int(RecommendationState.OPEN), snoozed_until=None)
            counts["reopened"] += 1
        await uow.repo.change(row["recommendation_id"], **values)
        counts["refreshed"] += 1
    for row in existing.values():  # active recommendations the facts no longer support
        outcome = _reconcile(row, False, inv, deps, now, report)
        if outcome.kind == "implement":
            await _implement(uow, row, outcome, now)
            counts["implemented"] += 1
        elif outcome.kind == "expire":
            await _expire(uow, row, now)
            counts["expired"] += 1


def _reconcile(
    row: dict[str, Any],
    still_applies: bool,
    inv: AccountInventory,
    deps: RecommendationDeps,
    now: datetime,
    report: CostReport = NO_REPORT,
) -> lifecycle.Outcome:
    return lifecycle.reconcile(
        RecommendationState(row["status"]),
        RecType(row["type"]),
        row["resource_id"],
        row["baseline_monthly_cost"],
        row["snoozed_until"],
        still_applies,
        inv,
        deps.prices,
        now.date(),
        report,
    )


def _refreshed_values(
    candidate: Candidate, sheet: dict[str, Any], text_hash: str, written: WrittenText, now: datetime
) -> dict[str, Any]:
    return {
        "title": written.text.title,
        "description": written.text.description,
        "action": candidate.action,
        "estimated_monthly_savings": candidate.estimated_monthly_savings,
        "confidence_score": candidate.confidence,
        "fact_sheet": sheet,
        "details": candidate.details,
        "text_hash": text_hash,
        "text_source": written.text.source,
        "text_fallback_reason": written.text.fallback_reason,
        "region": candidate.region,
        "updated_at": now,
        "last_seen_at": now,
    }


async def _create(
    uow: RecommendationUnitOfWork,
    team_id: UUID,
    inv: AccountInventory,
    candidate: Candidate,
    sheet: dict[str, Any],
    text_hash: str,
    written: WrittenText,
    now: datetime,
) -> None:
    recommendation_id = uuid4()
    await uow.repo.add(
        recommendation_id=recommendation_id,
        team_id=team_id,
        account_id=inv.account_id,
        aws_account_id=inv.aws_account_id,
        resource_id=candidate.resource_id,
        resource_type=candidate.resource_type,
        region=candidate.region,
        type=candidate.rec_type.value,
        title=written.text.title,
        description=written.text.description,
        action=candidate.action,
        estimated_monthly_savings=candidate.estimated_monthly_savings,
        confidence_score=candidate.confidence,
        status=int(RecommendationState.OPEN),
        baseline_monthly_cost=candidate.baseline_monthly_cost,
        fact_sheet=sheet,
        details=candidate.details,
        text_hash=text_hash,
        text_source=written.text.source,
        text_fallback_reason=written.text.fallback_reason,
        created_at=now,
        updated_at=now,
        last_seen_at=now,
    )
    await uow.emit(
        RECOMMENDATION_CREATED.format(aws_account_id=inv.aws_account_id),
        RecommendationCreated(
            team_id=team_id,
            recommendation_id=recommendation_id,
            account_id=inv.account_id,
            aws_account_id=inv.aws_account_id,
            resource_id=candidate.resource_id,
            resource_type=candidate.resource_type,
            rec_type=candidate.rec_type.value,
            title=written.text.title,
            description=written.text.description,
            action=candidate.action,
            estimated_monthly_savings=candidate.estimated_monthly_savings,
            confidence=candidate.confidence,
            text_source=written.text.source,
        ),
    )


async def _implement(
    uow: RecommendationUnitOfWork, row: dict[str, Any], outcome: lifecycle.Outcome, now: datetime
) -> None:
    realized = outcome.realized_monthly_savings or Decimal(0)
    await uow.repo.change(
        row["recommendation_id"],
        status=int(RecommendationState.IMPLEMENTED),
        realized_monthly_savings=realized,
        closed_at=now,
        updated_at=now,
    )
    await uow.emit(
        RECOMMENDATION_REALIZED.format(aws_account_id=row["aws_account_id"]),
        RecommendationRealized(
            team_id=row["team_id"],
            recommendation_id=row["recommendation_id"],
            aws_account_id=row["aws_account_id"],
            realized_monthly_savings=realized,
            resource_id=row["resource_id"],
            rec_type=row["type"],
            estimated_monthly_savings=to_cents(row["estimated_monthly_savings"]),
            evidence=outcome.evidence,
        ),
    )
    await _audit(
        uow,
        row,
        None,
        "recommendation.implemented",
        {"realized_monthly_savings": str(realized), "evidence": outcome.evidence},
    )


async def _expire(uow: RecommendationUnitOfWork, row: dict[str, Any], now: datetime) -> None:
    await uow.repo.change(
        row["recommendation_id"],
        status=int(RecommendationState.EXPIRED),
        closed_at=now,
        updated_at=now,
    )
    await _audit(
        uow,
        row,
        None,
        "recommendation.expired",
        {"from": RecommendationState(row["status"]).status.value},
    )


async def _audit(
    uow: RecommendationUnitOfWork,
    row: dict[str, Any],
    user_id: UUID | None,
    action: str,
    details: dict[str, Any],
) -> None:
    await uow.emit(
        AUDIT_RECORDED,
        AuditRecorded(
            team_id=row["team_id"],
            user_id=user_id,
            action=action,
            entity_type="recommendation",
            entity_id=str(row["recommendation_id"]),
            details={
                "type": row["type"],
                "resource_id": row["resource_id"],
                "aws_account_id": row["aws_account_id"],
                **details,
            },
            source=SOURCE,
        ),
    )


# -- decisions --------------------------------------------------------------------------------
async def decide(request: DecideRequest, deps: RecommendationDeps) -> DecideReply:
    """Approve, dismiss, snooze or reopen: authorised by identity, recorded, audited."""
    async with deps.uow() as uow:
        row = await uow.repo.get(request.recommendation_id)
    if row is None or row["team_id"] != request.team_id:
        return DecideReply.failure("not_found", "no such recommendation in this team")  # type: ignore[return-value]
    today = utcnow().date()
    try:  # a decision that cannot apply is refused before asking identity
        lifecycle.decide(
            RecommendationState(row["status"]),
            request.decision,
            today,
            request.snooze_days,
            row["snoozed_until"],
        )
        auth = await deps.authorize(
            AuthorizeRequest(
                team_id=request.team_id,
                user_id=request.user_id,
                action=DECISION_ACTIONS[request.decision],
            )
        )
    except TransitionNotAllowed as exc:
        return DecideReply.failure(exc.code, exc.message)  # type: ignore[return-value]
    except BusUnavailable as exc:
        return DecideReply.failure("identity_unavailable", str(exc))  # type: ignore[return-value]
    if not auth.allowed:
        return DecideReply.failure("forbidden", auth.reason or "not allowed")  # type: ignore[return-value]
    return await _record_decision(request, deps, today)


async def _record_decision(
    request: DecideRequest, deps: RecommendationDeps, today: Any
) -> DecideReply:
    now = utcnow()
    async with deps.uow() as uow:
        row = await uow.repo.get(request.recommendation_id, for_update=True)
        assert row is not None
        current = RecommendationState(row["status"])
        try:  # the status may have moved since it was read
            move = lifecycle.decide(
                current, request.decision, today, request.snooze_days, row["snoozed_until"]
            )
        except TransitionNotAllowed as exc:
            return DecideReply.failure(exc.code, exc.message)  # type: ignore[return-value]
        if not move.changed:
            return DecideReply(status=current.status, snoozed_until=row["snoozed_until"])
        await uow.repo.change(
            row["recommendation_id"],
            status=int(move.to),
            snoozed_until=move.snoozed_until,
            decided_by=request.user_id,
            decided_at=now,
            updated_at=now,
        )
        await uow.repo.add_decision(
            decision_id=uuid4(),
            recommendation_id=row["recommendation_id"],
            team_id=row["team_id"],
            decision=request.decision.value,
            from_status=int(current),
            to_status=int(move.to),
            user_id=request.user_id,
            reason=request.reason,
            snoozed_until=move.snoozed_until,
            decided_at=now,
        )
        await uow.emit(
            RECOMMENDATION_DECIDED,
            RecommendationDecided(
                team_id=row["team_id"],
                recommendation_id=row["recommendation_id"],
                aws_account_id=row["aws_account_id"],
                status=move.to.status,
                decision=request.decision,
                decided_by=request.user_id,
                reason=request.reason,
                snoozed_until=move.snoozed_until,
            ),
        )
        await _audit(
            uow,
            row,
            request.user_id,
            f"recommendation.{move.to.status.value}",
            {
                "from": current.status.value,
                "reason": request.reason,
                "snoozed_until": move.snoozed_until.isoformat() if move.snoozed_until else None,
                "estimated_monthly_savings": str(to_cents(row["estimated_monthly_savings"])),
            },
        )
        await uow.commit()
    return DecideReply(status=move.to.status, snoozed_until=move.snoozed_until)


# -- listing ----------------------------------------------------------------------------------
async def list_recommendations(
    request: RecommendationsRequest, uow: RecommendationUnitOfWork
) -> RecommendationsReply:
    status = RecommendationState.of(request.status) if request.status is not None else None
    async with uow:
        rows = await uow.repo.listing(request.team_id, status, request.limit)
    return RecommendationsReply(recommendations=[summary(r) for r in rows])


def summary(row: dict[str, Any]) -> RecommendationSummary:
    return RecommendationSummary(
        recommendation_id=row["recommendation_id"],
        aws_account_id=row["aws_account_id"],
        resource_id=row["resource_id"],
        rec_type=row["type"],
        title=row["title"],
        description=row["description"],
        estimated_monthly_savings=to_cents(row["estimated_monthly_savings"]),
        confidence=row["confidence_score"],
        status=RecommendationState(row["status"]).status,
        created_at=row["created_at"],
        resource_type=row["resource_type"],
        action=row["action"],
        region=row["region"],
        text_source=row["text_source"],
        snoozed_until=row["snoozed_until"],
        updated_at=row["updated_at"],
    )


async def watch_costs(event: CostDayRecorded, deps: RecommendationDeps) -> int:
    """Approved recommendations whose resource now costs much less in the cost report."""
    daily: dict[str, Decimal] = {}
    for line in event.lines:
        for driver in line.top_resources:
            daily[driver.name] = daily.get(driver.name, Decimal(0)) + driver.cost
    if not daily:
        return 0
    now = utcnow()
    implemented = 0
    async with deps.uow() as uow:
        for row in await uow.repo.approved_for(event.team_id, event.account_id, list(daily)):
            if row["decided_at"] is None or event.usage_date <= row["decided_at"].date():
                continue  # that day's cost still includes hours before the decision
            outcome = lifecycle.cost_verdict(
                row["baseline_monthly_cost"],
                row["estimated_monthly_savings"],
                daily[row["resource_id"]],
            )
            if outcome is not None:
                await _implement(uow, row, outcome, now)
                implemented += 1
        await uow.commit()
    return implemented


async def verify_approved(deps: RecommendationDeps) -> int:
    """Check every team with approved recommendations against a fresh inventory."""
    async with deps.uow() as uow:
        teams = await uow.repo.teams_with_approved()
    implemented = 0
    for team_id in teams:
        reply = await refresh(RefreshRequest(team_id=team_id), deps)
        implemented += reply.implemented
        if not reply.ok:
            log.warning(
                "verification refresh failed",
                extra={
                    "team_id": str(team_id),
                    "error": reply.error.message if reply.error else None,
                },
            )
    return implemented
