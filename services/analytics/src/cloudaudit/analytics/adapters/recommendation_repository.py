"""Recommendation persistence (analytics schema only) and its unit of work."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Self
from uuid import UUID

from cloudaudit.analytics.adapters.recommendation_orm import (
    recommendation_decisions,
    recommendation_texts,
    recommendations,
)
from cloudaudit.analytics.adapters.recommendation_rows import CachedText, RecommendationRow
from cloudaudit.analytics.adapters.rows import from_mapping
from cloudaudit.analytics.domain.recommendations.lifecycle import (
    ACTIVE_STATES,
    RecommendationState,
)
from cloudaudit.common.db import UnitOfWork
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

_ACTIVE = [int(s) for s in ACTIVE_STATES]


class RecommendationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_team(self, team_id: UUID) -> None:
        """Serialise refreshes of one team (one open recommendation per resource and type)."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"recommendations:{team_id}"}
        )

    async def active(self, team_id: UUID, account_ids: list[UUID]) -> list[RecommendationRow]:
        rows = await self.session.execute(
            select(recommendations).where(
                recommendations.c.team_id == team_id,
                recommendations.c.account_id.in_(account_ids),
                recommendations.c.status.in_(_ACTIVE),
            )
        )
        return [from_mapping(RecommendationRow, r) for r in rows.mappings()]

    async def get(
        self, recommendation_id: UUID, for_update: bool = False
    ) -> RecommendationRow | None:
        query = select(recommendations).where(
            recommendations.c.recommendation_id == recommendation_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return from_mapping(RecommendationRow, row) if row else None

    async def add(self, **values: Any) -> None:
        await self.session.execute(insert(recommendations).values(**values))

    async def change(self, recommendation_id: UUID, **values: Any) -> None:
        await self.session.execute(
            update(recommendations)
            .where(recommendations.c.recommendation_id == recommendation_id)
            .values(**values)
        )

    async def listing(
        self, team_id: UUID, status: RecommendationState | None, limit: int
    ) -> list[RecommendationRow]:
        query = select(recommendations).where(recommendations.c.team_id == team_id)
        if status is not None:
            query = query.where(recommendations.c.status == int(status))
        query = query.order_by(
            recommendations.c.estimated_monthly_savings.desc(), recommendations.c.created_at
        ).limit(limit)
        return [
            from_mapping(RecommendationRow, r)
            for r in (await self.session.execute(query)).mappings()
        ]

    async def open_totals(self, team_id: UUID) -> tuple[int, Decimal]:
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(recommendations.c.estimated_monthly_savings), 0),
                ).where(
                    recommendations.c.team_id == team_id,
                    recommendations.c.status == int(RecommendationState.OPEN),
                )
            )
        ).one()
        return int(row[0]), Decimal(row[1])

    async def teams_with_approved(self) -> list[UUID]:
        rows = await self.session.execute(
            select(recommendations.c.team_id)
            .where(recommendations.c.status == int(RecommendationState.APPROVED))
            .distinct()
        )
        return list(rows.scalars())

    async def approved_for(
        self, team_id: UUID, account_id: UUID, resource_ids: list[str]
    ) -> list[RecommendationRow]:
        rows = await self.session.execute(
            select(recommendations)
            .where(
                recommendations.c.team_id == team_id,
                recommendations.c.account_id == account_id,
                recommendations.c.resource_id.in_(resource_ids),
                recommendations.c.status == int(RecommendationState.APPROVED),
            )
            .with_for_update()
        )
        return [from_mapping(RecommendationRow, r) for r in rows.mappings()]

    async def add_decision(self, **values: Any) -> None:
        await self.session.execute(insert(recommendation_decisions).values(**values))

    # text cache --------------------------------------------------------------------------------
    async def cached_texts(self, hashes: list[str]) -> dict[str, CachedText]:
        if not hashes:
            return {}
        rows = await self.session.execute(
            select(recommendation_texts).where(recommendation_texts.c.text_hash.in_(hashes))
        )
        return {r["text_hash"]: from_mapping(CachedText, r) for r in rows.mappings()}

    async def cache_text(self, **values: Any) -> None:
        await self.session.execute(
            pg_insert(recommendation_texts)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["text_hash"])
        )


class RecommendationUnitOfWork(UnitOfWork):
    repo: RecommendationRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.repo = RecommendationRepository(self.session)
        return self
