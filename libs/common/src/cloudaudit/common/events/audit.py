"""Audit events: every service records who did what; identity appends them to the audit log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from cloudaudit.common.events.base import Event
from pydantic import Field

AUDIT_RECORDED = "audit.v1.recorded"


class AuditRecorded(Event):
    """Something auditable happened. `event_id` becomes the audit entry's id (exactly once)."""

    user_id: UUID | None = Field(default=None, description="Who did it; None for the system.")
    action: str = Field(min_length=1, max_length=100, examples=["recommendation.approved"])
    entity_type: str = Field(min_length=1, max_length=50, examples=["recommendation"])
    entity_id: str | None = Field(default=None, max_length=200)
    details: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(default="system", max_length=50, description="Service that recorded it.")
