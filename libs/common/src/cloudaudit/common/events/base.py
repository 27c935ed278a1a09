"""Base shapes of bus messages: events (facts that happened), requests and replies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID, uuid4

from cloudaudit.common.clock import ensure_utc, utcnow
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

UtcDateTime = Annotated[datetime, AfterValidator(ensure_utc)]


class Event(BaseModel):
    """A fact that happened. Immutable, strict on input, carries its own identity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: UtcDateTime = Field(default_factory=utcnow)
    team_id: UUID


class Request(BaseModel):
    """A request/reply query or command. Strict on input."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RpcError(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str


class Reply(BaseModel):
    """Every reply says whether it worked; on failure, `error` names the problem and the fix."""

    model_config = ConfigDict(frozen=True)

    ok: bool = True
    error: RpcError | None = None

    @classmethod
    def failure(cls, code: str, message: str) -> Reply:
        return cls(ok=False, error=RpcError(code=code, message=message))
