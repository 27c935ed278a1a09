"""Service health over the bus: `cloudaudit status` asks every service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

RPC_HEALTH = "system.v1.rpc.health.{service}"


class HealthReply(BaseModel):
    service: str
    healthy: bool
    version: str
    started_at: datetime
    checks: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
