"""Refresh a team's recommendations from a fresh inventory: create, refresh, reopen, expire and
verify, never duplicate (one active recommendation per resource and type)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from cloudaudit.analytics.adapters.llm import WrittenText
from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.adapters.recommendation_rows import RecommendationRow
from cloudaudit.analytics.domain.recommendations import lifecycle
from cloudaudit.analytics.domain.recommendations.lifecycle import Outcome, RecommendationState
from cloudaudit.analytics.domain.recommendations.model import Candidate, RecType
from cloudaudit.analytics.domain.recommendations.rates import NO_REPORT, CostReport
from cloudaudit.analytics.domain.recommendations.rules import evaluate
from cloudaudit.analytics.domain.recommendations.text import fact_sheet, sheet_hash
from cloudaudit.analytics.service.deps import AnalyticsDeps
from cloudaudit.analytics.service.recommendations.closing import SOURCE, expire, implement
from cloudaudit.analytics.service.recommendations.inventory import cost_report, fetch_inventory
from cloudaudit.analytics.service.recommendations.texts import (
    Texts,
    cache_new_texts,
    write_texts,
)
from cloudaudit.common.actors import Command, authorize
from cloudaudit.common.bus import BusUnavailable
from cloudaudit.common.errors import DomainError
from cloudaudit.common.events.identity import Action
from cloudaudit.common.events.inventory import AccountInventory
from cloudaudit.common.events.recommendation import (
    RECOMMENDATION_CREATED,
    RecommendationCreated,
    RecommendationFact,
    RefreshReply,
    RefreshRequest,
)
from cloudaudit.common.money import to_cents

COUNTED = ("created", "refreshed", "expired", "implemented", "reopened")


async def refresh_now(cmd: Command[RefreshRequest], deps: AnalyticsDeps) -> RefreshReply:
    """A person asks for a refresh now: it reads AWS and may call the LLM (billed), so owners
    and admins."""
    async with deps.recommendation_uow() as uow:
        await authorize(uow, cmd.actor, Action.CHANGE_SETTINGS, source=SOURCE)
    return await refresh(cmd.actor.team_id, cmd.request.account_id, deps)


async def refresh(team_id: UUID, account_id: UUID | None, deps: AnalyticsDeps) -> RefreshReply:
    """Re-evaluate the team's accounts (one, or all when None): create, refresh, expire,
    verify; never duplicate. System work after a sync calls this directly."""
    try:
        inventory = await fetch_inventory(team_id, account_id, deps)
    except BusUnavailable as exc:
        raise DomainError(str(exc), "ingest_unavailable") from None
    if not inventory.ok:
        assert inventory.error is not None
        raise DomainError(inventory.error.message, inventory.error.code)
    now = deps.now()
    problems = [p for inv in inventory.accounts for p in inv.problems]
    reports: dict[UUID, CostReport] = {}
    for inv in inventory.accounts:
        reports[inv.account_id], problem = await cost_report(team_id, inv, deps)
        problems += [problem] if problem else []
    found = {
        inv.account_id: evaluate(inv, deps.prices, now, reports[inv.account_id])
        for inv in inventory.accounts
    }
    texts = await write_texts(team_id, [c for cs in found.values() for c in cs], deps)
    counts: dict[str, int] = dict.fromkeys(COUNTED, 0)
    async with deps.recommendation_uow() as uow:
        await uow.repo.lock_team(team_id)
        for inv in inventory.accounts:
            run = _Run(uow, team_id, inv, texts, deps, now, counts, reports[inv.account_id])
            await run.apply(found[inv.account_id])
        await cache_new_texts(uow, texts, now)
        open_total, open_savings = await uow.repo.open_totals(team_id)
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


@dataclass
class _Run:
    """One account's refresh inside the team's transaction."""

    uow: RecommendationUnitOfWork
    team_id: UUID
    inv: AccountInventory
    texts: Texts
    deps: AnalyticsDeps
    now: datetime
    counts: dict[str, int]
    report: CostReport = NO_REPORT

    async def apply(self, candidates: list[Candidate]) -> None:
        active = await self.uow.repo.active(self.team_id, [self.inv.account_id])
        existing = {(r.resource_id, r.type): r for r in active}
        for candidate in candidates:
            await self._candidate(candidate, existing.pop(candidate.key, None))
        for row in existing.values():  # active recommendations the facts no longer support
            outcome = self._reconcile(row, still_applies=False)
            if outcome.kind is Outcome.IMPLEMENT:
                await implement(self.uow, row, outcome, self.now)
                self.counts["implemented"] += 1
            elif outcome.kind is Outcome.EXPIRE:
                await expire(self.uow, row, self.now)
                self.counts["expired"] += 1

    async def _candidate(self, candidate: Candidate, row: RecommendationRow | None) -> None:
        sheet = fact_sheet(candidate)
        text_hash = sheet_hash(sheet, self.deps.writer.model)
        written = self.texts.by_hash[text_hash]
        if row is None:
            await self._create(candidate, sheet, text_hash, written)
            self.counts["created"] += 1
            return
        outcome = self._reconcile(row, still_applies=True)
        if outcome.kind is Outcome.IMPLEMENT:
            await implement(self.uow, row, outcome, self.now)
            self.counts["implemented"] += 1
            return
        values = _refreshed_values(candidate, sheet, text_hash, written, self.now)
        if outcome.kind is Outcome.REOPEN:
            values.update(status=int(RecommendationState.OPEN), snoozed_until=None)
            self.counts["reopened"] += 1
        await self.uow.repo.change(row.recommendation_id, **values)
        self.counts["refreshed"] += 1

    def _reconcile(self, row: RecommendationRow, still_applies: bool) -> lifecycle.Reconciled:
        return lifecycle.reconcile(
            RecommendationState(row.status),
            RecType(row.type),
            row.resource_id,
            row.baseline_monthly_cost,
            row.snoozed_until,
            still_applies,
            self.inv,
            self.deps.prices,
            self.now.date(),
            self.report,
        )

    async def _create(
        self, candidate: Candidate, sheet: dict[str, Any], text_hash: str, written: WrittenText
    ) -> None:
        recommendation_id, inv, now = uuid4(), self.inv, self.now
        await self.uow.repo.add(
            recommendation_id=recommendation_id,
            team_id=self.team_id,
            account_id=inv.account_id,
            aws_account_id=inv.aws_account_id,
            resource_id=candidate.resource_id,
            resource_type=candidate.resource_type,
            type=candidate.rec_type.value,
            status=int(RecommendationState.OPEN),
            baseline_monthly_cost=candidate.baseline_monthly_cost,
            created_at=now,
            **_refreshed_values(candidate, sheet, text_hash, written, now),
        )
        await self.uow.emit(
            RECOMMENDATION_CREATED.format(aws_account_id=inv.aws_account_id),
            RecommendationCreated(
                team_id=self.team_id,
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
                facts=[RecommendationFact(name=f.name, text=f.text) for f in candidate.facts],
                risks=list(candidate.risks),
            ),
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
