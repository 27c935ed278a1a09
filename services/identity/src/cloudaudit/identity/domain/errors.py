"""Identity errors a user can act on: each carries a code and a message naming the fix."""

from cloudaudit.common.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

__all__ = [
    "Conflict",
    "Forbidden",
    "IdentityError",
    "InvalidCredentials",
    "InvalidInput",
    "LastOwner",
    "NotFound",
    "TooManyAttempts",
]

IdentityError = DomainError


class LastOwner(DomainError):
    code = "last_owner"


class TooManyAttempts(DomainError):
    code = "rate_limited"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
