"""Identity errors a user can act on: each carries a code and a message naming the fix."""

from cloudaudit.common.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

__all__ = [
    "Conflict",
    "EmailNotVerified",
    "Forbidden",
    "IdentityError",
    "InvalidCredentials",
    "InvalidInput",
    "InvalidToken",
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


class EmailNotVerified(DomainError):
    """The password is right, but the account's address was never proven."""

    code = "email_not_verified"


class InvalidToken(DomainError):
    """A mailed link that is unknown, used already, expired, or meant for something else."""

    code = "invalid_token"
