"""The one error base of every service, and the decorator that turns it into a bus reply.

A domain error carries a stable `code` (what a program matches on) and a message a person can
act on (what failed and the fix). Handlers raise; they never build `Reply.failure(...)` by hand:
`@replies_with(ReplyType)` on the entrypoint turns the error into `ReplyType(ok=False, error=...)`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, Self, TypeVar

from cloudaudit.common.events.base import Reply, RpcError


class DomainError(Exception):
    """Something a person can fix: `code` for programs, `message` (with the fix) for people."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = {}
        if code is not None:
            self.code = code

    def with_details(self, **fields: Any) -> Self:
        """Fields the failed reply carries besides the error, where the reply type has them
        (the step a connection failed at, the account it was about); returns the error."""
        self.details.update(fields)
        return self


class NotFound(DomainError):
    """Also the answer to a person who is not a member of the team that owns the target, so
    that nothing about another team (not even that the thing exists) leaks."""

    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthenticated(DomainError):
    """No verifiable actor token: missing, forged, expired, or meant for another service."""

    code = "unauthenticated"


class InvalidInput(DomainError):
    code = "invalid_input"


class Conflict(DomainError):
    code = "conflict"


P = ParamSpec("P")
R = TypeVar("R", bound=Reply)


def replies_with(
    reply_type: type[R],
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorate a request handler: a `DomainError` it raises becomes a failed `reply_type`."""

    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(handler)
        async def answer(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await handler(*args, **kwargs)
            except DomainError as exc:
                extra = {k: v for k, v in exc.details.items() if k in reply_type.model_fields}
                return reply_type(
                    ok=False, error=RpcError(code=exc.code, message=exc.message), **extra
                )

        return answer

    return decorate
