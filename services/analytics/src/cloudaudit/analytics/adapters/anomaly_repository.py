"""Anomaly persistence: detector states (optimistic versions), days seen, anomalies, settings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from cloudaudit.analytics.adapters.anomaly_orm import (
    anomaly_feedback,
    anomaly_team_settings,
    cost_anomalies,
    cost_days,
    detector_states,
    spend_expectations,
)
from cloudaudit.common.clock import utcnow
from sqlalchemy import and_, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession


class ConcurrentModelUpdate(Exception):
    """Another replica changed this series' model since it was read; the message is retried."""


class AnomalyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- days and detector states --------------------------------------------------------------
    async def lock_account(self, team_id: UUID, account_id: UUID) -> None:
        """Days of one account are applied one at a time across replicas (in arrival order)."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
            {"k": f"anomaly-account:{team_id}:{account_id}"},
        )

    async def day_revision(self, team_id: UUID, account_id: UUID, usage_date: date) -> int | None:
        return (
            await self.session.execute(
                select(cost_days.c.revision).where(
                    cost_days.c.team_id == team_id,
                    cost_days.c.account_id == account_id,
                    cost_days.c.usage_date == usage_date,
                )
            )
        ).scalar_one_or_none()

    async def record_day(
        self,
        team_id: UUID,
        account_id: UUID,
        usage_date: date,
        revision: int,
        event_id: UUID,
        total_cost: Decimal,
    ) -> None:
        statement = pg_insert(cost_days).values(
            team_id=team_id,
            account_id=account_id,
            usage_date=usage_date,
            revision=revision,
            event_id=event_id,
            total_cost=total_cost,
            recorded_at=utcnow(),
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["team_id", "account_id", "usage_date"],
                set_={
                    "revision": revision,
                    "event_id": event_id,
                    "total_cost": total_cost,
                    "recorded_at": utcnow(),
                },
            )
        )

    async def states(self, team_id: UUID, account_id: UUID) -> dict[str, dict[str, Any]]:
        rows = await self.session.execute(
            select(detector_states).where(
                detector_states.c.team_id == team_id, detector_states.c.account_id == account_id
            )
        )
        return {r["series_key"]: dict(r) for r in rows.mappings()}

    async def state(self, series_key: str) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    select(detector_states).where(detector_states.c.series_key == series_key)
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def save_state(self, row: dict[str, Any], read_version: int | None) -> int:
        """Write a series' model; raises ConcurrentModelUpdate if someone wrote it first."""
        now = utcnow()
        if read_version is None:
            result = await self.session.execute(
                pg_insert(detector_states)
                .values(**row, model_version=1, updated_at=now)
                .on_conflict_do_nothing(index_elements=["series_key"])
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise ConcurrentModelUpdate(f"series {row['series_key']} was created meanwhile")
            return 1
        fields = {k: v for k, v in row.items() if k != "series_key"}
        result = await self.session.execute(
            update(detector_states)
            .where(
                detector_states.c.series_key == row["series_key"],
                detector_states.c.model_version == read_version,
            )
            .values(**fields, model_version=read_version + 1, updated_at=now)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise ConcurrentModelUpdate(
                f"series {row['series_key']} moved past version {read_version}"
            )
        return read_version + 1

    # -- anomalies ----------------------------------------------------------------------------
    async def anomaly_for_episode(
        self, series_key: str, episode_start: date
    ) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    select(cost_anomalies).where(
                        cost_anomalies.c.series_key == series_key,
                        cost_anomalies.c.episode_start == episode_start,
                    )
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def add_anomaly(self, **row: Any) -> None:
        await self.session.execute(insert(cost_anomalies).values(**row, updated_at=utcnow()))

    async def update_anomaly(self, anomaly_id: UUID, **fields: Any) -> None:
        await self.session.execute(
            update(cost_anomalies)
            .where(cost_anomalies.c.anomaly_id == anomaly_id)
            .values(**fields, updated_at=utcnow())
        )

    async def anomaly(self, team_id: UUID, anomaly_id: UUID) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    select(cost_anomalies).where(
                        cost_anomalies.c.anomaly_id == anomaly_id,
                        cost_anomalies.c.team_id == team_id,
                    )
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def anomalies(
        self, team_id: UUID | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        query = select(cost_anomalies)
        if team_id is not None:
            query = query.where(cost_anomalies.c.team_id == team_id)
        if status is not None:
            query = query.where(cost_anomalies.c.status == status)
        rows = await self.session.execute(
            query.order_by(
                cost_anomalies.c.detected_at.desc(), cost_anomalies.c.usage_date.desc()
            ).limit(limit)
        )
        return [dict(r) for r in rows.mappings()]

    async def add_feedback(self, **row: Any) -> None:
        await self.session.execute(insert(anomaly_feedback).values(**row, created_at=utcnow()))

    # -- team thresholds and planned spend ----------------------------------------------------
    async def team_settings(self, team_id: UUID) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    select(anomaly_team_settings).where(anomaly_team_settings.c.team_id == team_id)
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def save_team_settings(
        self, team_id: UUID, min_impact: Decimal, min_impact_pct: Decimal, updated_by: UUID | None
    ) -> None:
        values = {
            "min_impact": min_impact,
            "min_impact_pct": min_impact_pct,
            "updated_by": updated_by,
            "updated_at": utcnow(),
        }
        await self.session.execute(
            pg_insert(anomaly_team_settings)
            .values(team_id=team_id, **values)
            .on_conflict_do_update(index_elements=["team_id"], set_=values)
        )

    async def add_expectation(self, **row: Any) -> None:
        await self.session.execute(insert(spend_expectations).values(**row, created_at=utcnow()))

    async def expectations_on(self, team_id: UUID, usage_date: date) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(spend_expectations).where(
                and_(
                    spend_expectations.c.team_id == team_id,
                    spend_expectations.c.start_date <= usage_date,
                    spend_expectations.c.end_date >= usage_date,
                )
            )
        )
        return [dict(r) for r in rows.mappings()]
