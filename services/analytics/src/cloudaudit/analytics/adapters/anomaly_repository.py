"""Anomaly persistence: detector states (optimistic versions), days seen, series day values and
checkpoints for replay, anomalies, settings, planned spend."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from cloudaudit.analytics.adapters.anomaly_orm import (
    anomaly_feedback,
    anomaly_team_settings,
    cost_anomalies,
    cost_days,
    detector_checkpoints,
    detector_states,
    series_days,
    spend_expectations,
)
from cloudaudit.analytics.adapters.anomaly_rows import (
    AnomalyRow,
    Checkpoint,
    ExpectationRow,
    SeriesState,
    TeamThresholds,
)
from cloudaudit.analytics.adapters.rows import columns, from_mapping
from cloudaudit.analytics.domain.anomaly_decision import KnownAnomaly
from cloudaudit.analytics.domain.cost_series import SeriesDay
from cloudaudit.analytics.domain.planned_spend import PlanInForce
from cloudaudit.analytics.domain.series_replay import StoredSeriesDay
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.anomaly import AnomalyStatus, Feedback
from sqlalchemy import (
    RowMapping,
    and_,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession


class ConcurrentModelUpdate(Exception):
    """Another replica changed this series' model since it was read; the message is retried."""


class AnomalyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def forget_account(self, team_id: UUID, account_id: UUID) -> dict[str, int]:
        """Every row analytics keeps about one of the team's accounts, deleted (by table)."""
        from cloudaudit.analytics.adapters.account_data import forget_account

        return await forget_account(self.session, team_id, account_id)

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

    async def latest_day(self, team_id: UUID, account_id: UUID) -> date | None:
        return (
            await self.session.execute(
                select(func.max(cost_days.c.usage_date)).where(
                    cost_days.c.team_id == team_id, cost_days.c.account_id == account_id
                )
            )
        ).scalar_one_or_none()

    async def account_days(self, team_id: UUID, account_id: UUID, after: date | None) -> list[date]:
        """The account's recorded days (after `after`), in date order: the replay timeline."""
        query = select(cost_days.c.usage_date).where(
            cost_days.c.team_id == team_id, cost_days.c.account_id == account_id
        )
        if after is not None:
            query = query.where(cost_days.c.usage_date > after)
        return list((await self.session.execute(query.order_by(cost_days.c.usage_date))).scalars())

    # -- series day values and checkpoints (replay) -------------------------------------------
    async def save_series_days(
        self, team_id: UUID, account_id: UUID, usage_date: date, days: Mapping[str, SeriesDay]
    ) -> None:
        """Store one account-day's series values (series key -> day); a series the new
        revision no longer shows keeps its row (and feedback) at cost 0."""
        rows = [
            {
                "series_key": key,
                "cost": day.cost,
                "summary_id": day.summary_id,
                "drivers": {name: str(cost) for name, cost in day.drivers.items()},
            }
            for key, day in days.items()
        ]
        keys = list(days)
        await self.session.execute(
            update(series_days)
            .where(
                series_days.c.team_id == team_id,
                series_days.c.account_id == account_id,
                series_days.c.usage_date == usage_date,
                series_days.c.series_key.not_in(keys),
            )
            .values(cost=0, summary_id=None, drivers={})
        )
        if not rows:
            return
        statement = pg_insert(series_days).values(
            [
                {**r, "team_id": team_id, "account_id": account_id, "usage_date": usage_date}
                for r in rows
            ]
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["series_key", "usage_date"],
                set_={
                    "cost": statement.excluded.cost,
                    "summary_id": statement.excluded.summary_id,
                    "drivers": statement.excluded.drivers,
                },
            )
        )

    async def series_days(
        self, team_id: UUID, account_id: UUID, since: date | None
    ) -> dict[str, dict[date, StoredSeriesDay]]:
        """Stored series values of the account from `since` on: series key -> day -> value."""
        query = select(series_days).where(
            series_days.c.team_id == team_id, series_days.c.account_id == account_id
        )
        if since is not None:
            query = query.where(series_days.c.usage_date >= since)
        out: dict[str, dict[date, StoredSeriesDay]] = {}
        for r in (await self.session.execute(query)).mappings():
            out.setdefault(r["series_key"], {})[r["usage_date"]] = StoredSeriesDay(
                cost=r["cost"],
                summary_id=r["summary_id"],
                drivers={name: Decimal(cost) for name, cost in r["drivers"].items()},
                feedback=tuple(Feedback(f) for f in r["feedback"] or ()),
            )
        return out

    async def first_days(self, team_id: UUID, account_id: UUID) -> dict[str, date]:
        """The day each series of the account first appeared."""
        rows = await self.session.execute(
            select(series_days.c.series_key, func.min(series_days.c.usage_date))
            .where(series_days.c.team_id == team_id, series_days.c.account_id == account_id)
            .group_by(series_days.c.series_key)
        )
        return {key: first for key, first in rows}

    async def add_series_feedback(
        self, series_key: str, team_id: UUID, account_id: UUID, usage_date: date, action: str
    ) -> None:
        statement = pg_insert(series_days).values(
            series_key=series_key,
            usage_date=usage_date,
            team_id=team_id,
            account_id=account_id,
            cost=0,
            summary_id=None,
            drivers={},
            feedback=[action],
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["series_key", "usage_date"],
                set_={
                    "feedback": literal_column(
                        "COALESCE(analytics.series_days.feedback, '[]'::jsonb) || excluded.feedback"
                    )
                },
            )
        )

    async def checkpoints_before(
        self, team_id: UUID, account_id: UUID, before: date
    ) -> dict[str, tuple[date, dict[str, Any]]]:
        """Each series' last checkpoint strictly before `before`."""
        rows = await self.session.execute(
            select(detector_checkpoints)
            .where(
                detector_checkpoints.c.team_id == team_id,
                detector_checkpoints.c.account_id == account_id,
                detector_checkpoints.c.usage_date < before,
            )
            .order_by(detector_checkpoints.c.series_key, detector_checkpoints.c.usage_date.desc())
            .ext(distinct_on(detector_checkpoints.c.series_key))
        )
        return {r["series_key"]: (r["usage_date"], r["state"]) for r in rows.mappings()}

    async def save_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        if not checkpoints:
            return
        statement = pg_insert(detector_checkpoints).values([columns(c) for c in checkpoints])
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["series_key", "usage_date"],
                set_={"state": statement.excluded.state},
            )
        )

    async def states(self, team_id: UUID, account_id: UUID) -> dict[str, SeriesState]:
        rows = await self.session.execute(
            select(detector_states).where(
                detector_states.c.team_id == team_id, detector_states.c.account_id == account_id
            )
        )
        return {r["series_key"]: from_mapping(SeriesState, r) for r in rows.mappings()}

    async def state(self, series_key: str) -> SeriesState | None:
        row = (
            (
                await self.session.execute(
                    select(detector_states).where(detector_states.c.series_key == series_key)
                )
            )
            .mappings()
            .first()
        )
        return from_mapping(SeriesState, row) if row else None

    async def save_state(self, series: SeriesState, read_version: int | None) -> int:
        """Write a series' model; raises ConcurrentModelUpdate if someone wrote it first."""
        now = utcnow()
        row = {k: v for k, v in columns(series).items() if k != "model_version"}
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
    ) -> KnownAnomaly | None:
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
        return _known(row)

    async def anomaly_for_change(
        self, series_key: str, episode_start: date, through: date, replayed_from: date
    ) -> KnownAnomaly | None:
        """After a replay from `replayed_from`, an episode may start on another day than the
        one it was recorded with: the anomaly of this series recorded for the same change is
        the first one that started between the earlier of the two starts and `through` (the
        episode's last day in the replay) and had not ended before this episode began."""
        row = (
            (
                await self.session.execute(
                    select(cost_anomalies)
                    .where(
                        cost_anomalies.c.series_key == series_key,
                        cost_anomalies.c.episode_start >= min(episode_start, replayed_from),
                        cost_anomalies.c.episode_start <= through,
                        or_(
                            cost_anomalies.c.episode_end.is_(None),
                            cost_anomalies.c.episode_end >= episode_start,
                        ),
                    )
                    .order_by(cost_anomalies.c.episode_start)
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return _known(row)

    async def add_anomaly(self, **row: Any) -> None:
        await self.session.execute(insert(cost_anomalies).values(**row, updated_at=utcnow()))

    async def update_anomaly(self, anomaly_id: UUID, **fields: Any) -> None:
        await self.session.execute(
            update(cost_anomalies)
            .where(cost_anomalies.c.anomaly_id == anomaly_id)
            .values(**fields, updated_at=utcnow())
        )

    async def anomaly(self, team_id: UUID, anomaly_id: UUID) -> AnomalyRow | None:
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
        return from_mapping(AnomalyRow, row) if row else None

    async def anomalies(
        self, team_id: UUID | None, status: str | None, limit: int
    ) -> list[AnomalyRow]:
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
        return [from_mapping(AnomalyRow, r) for r in rows.mappings()]

    async def add_feedback(self, **row: Any) -> None:
        await self.session.execute(insert(anomaly_feedback).values(**row, created_at=utcnow()))

    # -- team thresholds and planned spend ----------------------------------------------------
    async def team_settings(self, team_id: UUID) -> TeamThresholds | None:
        row = (
            (
                await self.session.execute(
                    select(anomaly_team_settings).where(anomaly_team_settings.c.team_id == team_id)
                )
            )
            .mappings()
            .first()
        )
        return from_mapping(TeamThresholds, row) if row else None

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

    async def expectations_on(
        self, team_id: UUID, usage_date: date, account_id: UUID | None = None
    ) -> list[PlanInForce]:
        """Plans in force that day (not cancelled), for the account when one is given."""
        query = select(spend_expectations).where(
            and_(
                spend_expectations.c.team_id == team_id,
                spend_expectations.c.start_date <= usage_date,
                spend_expectations.c.end_date >= usage_date,
                spend_expectations.c.cancelled_at.is_(None),
            )
        )
        if account_id is not None:
            query = query.where(
                or_(
                    spend_expectations.c.account_id.is_(None),
                    spend_expectations.c.account_id == account_id,
                )
            )
        rows = await self.session.execute(query)
        return [PlanInForce(service=r["service"], amount=r["amount"]) for r in rows.mappings()]

    async def expectations(self, team_id: UUID, include_cancelled: bool) -> list[ExpectationRow]:
        query = select(spend_expectations).where(spend_expectations.c.team_id == team_id)
        if not include_cancelled:
            query = query.where(spend_expectations.c.cancelled_at.is_(None))
        rows = await self.session.execute(
            query.order_by(spend_expectations.c.start_date, spend_expectations.c.created_at)
        )
        return [from_mapping(ExpectationRow, r) for r in rows.mappings()]

    async def expectation(self, expectation_id: UUID) -> ExpectationRow | None:
        row = (
            (
                await self.session.execute(
                    select(spend_expectations)
                    .where(spend_expectations.c.expectation_id == expectation_id)
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        return from_mapping(ExpectationRow, row) if row else None

    async def cancel_expectation(self, expectation_id: UUID, cancelled_by: UUID | None) -> None:
        await self.session.execute(
            update(spend_expectations)
            .where(spend_expectations.c.expectation_id == expectation_id)
            .values(cancelled_at=utcnow(), cancelled_by=cancelled_by)
        )

    # -- what analytics knows of a team's accounts ----------------------------------------------
    async def team_accounts(self, team_id: UUID) -> dict[UUID, str]:
        """The team's accounts analytics has cost data for: account id -> AWS account id."""
        rows = await self.session.execute(
            select(detector_states.c.account_id, detector_states.c.aws_account_id)
            .where(detector_states.c.team_id == team_id)
            .distinct()
        )
        return {account_id: aws for account_id, aws in rows}

    async def team_has_days(self, team_id: UUID) -> bool:
        found = await self.session.execute(
            select(literal(1)).where(cost_days.c.team_id == team_id).limit(1)
        )
        return found.first() is not None


def _known(row: RowMapping | None) -> KnownAnomaly | None:
    if row is None:
        return None
    return KnownAnomaly(
        anomaly_id=row["anomaly_id"],
        status=AnomalyStatus(row["status"]),
        alerted=bool(row["alerted"]),
    )
