"""Reads and writes of the bot schema (teams' Slack settings, message refs, event receipts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cloudaudit.bot.adapters.orm import (
    pending_connections,
    posted_messages,
    slack_event_receipts,
    teams,
)
from cloudaudit.common.clock import utcnow


@dataclass(frozen=True)
class TeamSlack:
    """The Slack side of a CloudAudit team."""

    team_id: UUID
    slack_team_id: str
    alert_channel_id: str | None
    owner_slack_user_id: str | None
    digest: str
    digest_hour: int
    time_zone: str
    last_digest_key: str | None


@dataclass(frozen=True)
class MessageRef:
    event_id: UUID
    team_id: UUID
    subject_type: str
    subject_id: str
    kind: str
    status: str
    channel_id: str | None
    ts: str | None
    thread_ts: str | None
    text: str
    blocks: list[dict[str, Any]]
    posting_since: datetime | None = None
    intents: int = 0


def _team(row: Any) -> TeamSlack:
    return TeamSlack(
        team_id=row.team_id,
        slack_team_id=row.slack_team_id,
        alert_channel_id=row.alert_channel_id,
        owner_slack_user_id=row.owner_slack_user_id,
        digest=row.digest,
        digest_hour=row.digest_hour,
        time_zone=row.time_zone,
        last_digest_key=row.last_digest_key,
    )


def _ref(row: Any) -> MessageRef:
    return MessageRef(
        event_id=row.event_id,
        team_id=row.team_id,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        kind=row.kind,
        status=row.status,
        channel_id=row.channel_id,
        ts=row.ts,
        thread_ts=row.thread_ts,
        text=row.text,
        blocks=list(row.blocks or []),
        posting_since=row.posting_since,
        intents=row.intents,
    )


class BotRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- teams --------------------------------------------------------------------------------
    async def remember_team(
        self,
        team_id: UUID,
        slack_team_id: str,
        slack_team_name: str | None,
        owner_slack_user_id: str | None,
    ) -> None:
        """Link a team to its workspace (first sight) and keep the owner to warn up to date."""
        values: dict[str, Any] = {
            "team_id": team_id,
            "slack_team_id": slack_team_id,
            "slack_team_name": slack_team_name,
        }
        if owner_slack_user_id:
            values["owner_slack_user_id"] = owner_slack_user_id
        statement = insert(teams).values(**values)
        changes = {"slack_team_id": statement.excluded.slack_team_id}
        if owner_slack_user_id:
            changes["owner_slack_user_id"] = statement.excluded.owner_slack_user_id
            changes["updated_at"] = utcnow()
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[teams.c.team_id], set_=changes)
        )

    async def team(self, team_id: UUID, lock: bool = False) -> TeamSlack | None:
        query = select(teams).where(teams.c.team_id == team_id)
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return _team(row) if row else None

    async def team_by_slack(self, slack_team_id: str) -> TeamSlack | None:
        row = (
            await self.session.execute(select(teams).where(teams.c.slack_team_id == slack_team_id))
        ).first()
        return _team(row) if row else None

    async def set_alert_channel(self, team_id: UUID, channel_id: str | None) -> None:
        await self.session.execute(
            update(teams)
            .where(teams.c.team_id == team_id)
            .values(alert_channel_id=channel_id, updated_at=utcnow())
        )

    async def clear_alert_channel_if(self, slack_team_id: str, channel_id: str) -> TeamSlack | None:
        """The bot left `channel_id`; forget it as the alert channel. Returns the team if it was."""
        row = (
            await self.session.execute(
                update(teams)
                .where(
                    and_(
                        teams.c.slack_team_id == slack_team_id,
                        teams.c.alert_channel_id == channel_id,
                    )
                )
                .values(alert_channel_id=None, updated_at=utcnow())
                .returning(*teams.c)
            )
        ).first()
        return _team(row) if row else None

    async def set_digest(self, team_id: UUID, digest: str, hour: int, time_zone: str) -> None:
        await self.session.execute(
            update(teams)
            .where(teams.c.team_id == team_id)
            .values(digest=digest, digest_hour=hour, time_zone=time_zone, updated_at=utcnow())
        )

    async def teams_with_digest(self) -> list[TeamSlack]:
        rows = (await self.session.execute(select(teams).where(teams.c.digest != "off"))).all()
        return [_team(r) for r in rows]

    async def mark_digest(self, team_id: UUID, key: str) -> None:
        await self.session.execute(
            update(teams).where(teams.c.team_id == team_id).values(last_digest_key=key)
        )

    # -- posted messages ----------------------------------------------------------------------
    async def claim(
        self,
        event_id: UUID,
        team_id: UUID,
        subject_type: str,
        subject_id: str,
        kind: str,
        text: str,
        blocks: list[dict[str, Any]],
    ) -> MessageRef:
        """Create the ref for an event (first delivery) and lock it; a redelivery finds it."""
        await self.session.execute(
            insert(posted_messages)
            .values(
                event_id=event_id,
                team_id=team_id,
                subject_type=subject_type,
                subject_id=subject_id,
                kind=kind,
                text=text,
                blocks=blocks,
            )
            .on_conflict_do_nothing()
        )
        row = (
            await self.session.execute(
                select(posted_messages)
                .where(posted_messages.c.event_id == event_id)
                .with_for_update()
            )
        ).one()
        return _ref(row)

    async def intend(
        self,
        event_id: UUID,
        team_id: UUID,
        subject_type: str,
        subject_id: str,
        kind: str,
        text: str,
        blocks: list[dict[str, Any]],
        channel_id: str | None,
        thread_ts: str | None = None,
    ) -> tuple[MessageRef, bool]:
        """Record the intent to post an event's message (the caller commits it before Slack).

        Returns the ref and whether this attempt moved it into `posting` (a first delivery, or a
        retry of one kept undelivered). A ref already `posting` keeps the channel and start time
        of the attempt that may have reached Slack, and counts one more intent. A posted ref is
        returned unchanged.
        """
        now = utcnow()
        inserted = (
            await self.session.execute(
                insert(posted_messages)
                .values(
                    event_id=event_id,
                    team_id=team_id,
                    subject_type=subject_type,
                    subject_id=subject_id,
                    kind=kind,
                    text=text,
                    blocks=blocks,
                    status="posting",
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    posting_since=now,
                    intents=1,
                )
                .on_conflict_do_nothing()
                .returning(*posted_messages.c)
            )
        ).first()
        if inserted is not None:
            return _ref(inserted), True
        current = await self.ref(event_id, lock=True)
        if current is None:  # another event's alert holds the subject (see alert_ref)
            raise LookupError(f"no message ref {event_id} and its subject is taken")
        if current.status == "posted":
            return current, False
        fresh = current.status != "posting"
        changes: dict[str, Any] = {"status": "posting", "intents": current.intents + 1}
        if fresh:
            changes.update(channel_id=channel_id, thread_ts=thread_ts, posting_since=now)
        row = (
            await self.session.execute(
                update(posted_messages)
                .where(posted_messages.c.event_id == event_id)
                .values(**changes)
                .returning(*posted_messages.c)
            )
        ).one()
        return _ref(row), fresh

    async def alert_ref(
        self, subject_type: str, subject_id: str, lock: bool = False
    ) -> MessageRef | None:
        query = select(posted_messages).where(
            and_(
                posted_messages.c.subject_type == subject_type,
                posted_messages.c.subject_id == subject_id,
                posted_messages.c.kind == "alert",
            )
        )
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return _ref(row) if row else None

    async def ref(self, event_id: UUID, lock: bool = False) -> MessageRef | None:
        query = select(posted_messages).where(posted_messages.c.event_id == event_id)
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return _ref(row) if row else None

    async def mark_posted(
        self, event_id: UUID, channel_id: str, ts: str, thread_ts: str | None = None
    ) -> None:
        await self.session.execute(
            update(posted_messages)
            .where(posted_messages.c.event_id == event_id)
            .values(
                status="posted",
                channel_id=channel_id,
                ts=ts,
                thread_ts=thread_ts,
                error=None,
                posted_at=utcnow(),
                attempts=posted_messages.c.attempts + 1,
            )
        )

    async def mark_undelivered(self, event_id: UUID, channel_id: str | None, error: str) -> None:
        await self.session.execute(
            update(posted_messages)
            .where(posted_messages.c.event_id == event_id)
            .values(
                status="undelivered",
                channel_id=channel_id,
                error=error[:200],
                attempts=posted_messages.c.attempts + 1,
            )
        )

    async def replace_content(
        self, event_id: UUID, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        await self.session.execute(
            update(posted_messages)
            .where(posted_messages.c.event_id == event_id)
            .values(text=text, blocks=blocks)
        )

    async def kept_alerts(self, team_id: UUID, limit: int = 50) -> list[MessageRef]:
        """Alerts not posted: kept undelivered, or `posting` (cut short, or being posted now:
        the posting lock and the metadata look-up make taking one of those safe)."""
        rows = (
            await self.session.execute(
                select(posted_messages)
                .where(
                    and_(
                        posted_messages.c.team_id == team_id,
                        posted_messages.c.status.in_(("undelivered", "posting")),
                        posted_messages.c.kind == "alert",
                    )
                )
                .order_by(posted_messages.c.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        return [_ref(r) for r in rows]

    # -- Slack event receipts -----------------------------------------------------------------
    async def first_receipt(self, slack_event_id: str) -> bool:
        """True the first time a Slack event id is seen (retries and redeliveries are False)."""
        result = await self.session.execute(
            insert(slack_event_receipts)
            .values(slack_event_id=slack_event_id)
            .on_conflict_do_nothing()
            .returning(slack_event_receipts.c.slack_event_id)
        )
        return result.first() is not None

    async def forget_receipts(self, before: datetime) -> int:
        """Slack stops retrying an event within the hour; older receipts only take space."""
        result = await self.session.execute(
            delete(slack_event_receipts).where(slack_event_receipts.c.received_at < before)
        )
        return int(result.rowcount or 0)

    # -- account connections waiting for ingest -------------------------------------------------
    async def remember_connection(
        self,
        team_id: UUID,
        requested_by: UUID,
        slack_user_id: str,
        channel_id: str | None,
        role_arn: str,
    ) -> None:
        statement = insert(pending_connections).values(
            team_id=team_id,
            requested_by=requested_by,
            slack_user_id=slack_user_id,
            channel_id=channel_id,
            role_arn=role_arn,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[pending_connections.c.team_id, pending_connections.c.requested_by],
                set_={
                    "slack_user_id": statement.excluded.slack_user_id,
                    "channel_id": statement.excluded.channel_id,
                    "role_arn": statement.excluded.role_arn,
                    "requested_at": utcnow(),
                },
            )
        )

    async def take_connection(
        self, team_id: UUID, requested_by: UUID | None
    ) -> dict[str, Any] | None:
        if requested_by is None:
            return None
        row = (
            await self.session.execute(
                delete(pending_connections)
                .where(
                    and_(
                        pending_connections.c.team_id == team_id,
                        pending_connections.c.requested_by == requested_by,
                    )
                )
                .returning(*pending_connections.c)
            )
        ).first()
        return dict(row._mapping) if row else None
