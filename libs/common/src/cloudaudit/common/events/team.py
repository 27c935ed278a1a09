"""A team's end: after its offboarding period, identity announces it deleted, and every service
deletes what it keeps of that team (idempotently: a redelivered event finds nothing left)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from cloudaudit.common.events.base import Event
from pydantic import Field

TEAM_DELETED = "identity.v1.team.deleted"


class TeamDeleted(Event):
    """Every service deletes the team's rows on this; identity has deleted its own."""

    offboarding_started_at: datetime | None = None
    requested_by: UUID | None = Field(default=None, description="Who asked (None: the operator).")
    reason: str = Field(default="deleted", examples=["app_uninstalled", "deleted"])
