"""Base shapes of bus messages: events (facts that happened), requests and replies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar
from uuid import UUID, uuid4

from cloudaudit.common.clock import ensure_utc, utcnow
from cloudaudit.common.logging import current_bus_context
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, SecretStr

UtcDateTime = Annotated[datetime, AfterValidator(ensure_utc)]

# A bearer credential for a few minutes: on the wire it is plain text (the JSON body), but a
# repr, a log line or an error message of the model shows only '**********'.
ActorToken = Annotated[
    SecretStr,
    PlainSerializer(lambda value: value.get_secret_value(), return_type=str, when_used="always"),
]


class Event(BaseModel):
    """A fact that happened. Immutable, strict on input, carries its own identity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: UtcDateTime = Field(default_factory=utcnow)
    team_id: UUID
    # Tracing (optional, so older payloads still parse): the first event of the chain this
    # one belongs to, and the event whose handling emitted it.
    correlation_id: UUID | None = Field(
        default=None, description="Event id that started the chain (e.g. the cost day)."
    )
    causation_id: UUID | None = Field(
        default=None, description="Event id whose handling emitted this event."
    )


E = TypeVar("E", bound=Event)


def caused_by_current(event: E) -> E:
    """The event linked to the bus message being handled, if any (ids already set are kept)."""
    context = current_bus_context()
    if context is None or event.causation_id is not None:
        return event
    cause = _uuid(context.event_id)
    if cause is None:
        return event
    correlation = _uuid(context.correlation_id) or cause
    if event.event_id == cause:
        return event  # re-publishing the message itself is not a new link in the chain
    return event.model_copy(
        update={"causation_id": cause, "correlation_id": event.correlation_id or correlation}
    )


class Request(BaseModel):
    """A request/reply query or command. Strict on input."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ActorRequest(Request):
    """A request made for a person. Who acts (team, user, role) comes only from the actor
    token identity signed for the receiving service, never from fields of the body."""

    actor_token: ActorToken | None = Field(
        default=None,
        description="Identity's signed actor token for the receiving service (required on the "
        "bus; the operator CLI calls handlers in-process without one).",
    )


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


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None
