"""Identity errors a user can act on: each carries a code and a message naming the fix."""

from cloudaudit.common.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

__all__ = [
    "Conflict",
    "EmailNotVerified",
    "Forbidden",
    "IdentityError",
    "InvalidCode",
    "InvalidCredentials",
    "InvalidInput",
    "InvalidToken",
    "LastOwner",
    "NotAdmitted",
    "NotClaimed",
    "NotFound",
    "NotInvited",
    "SlackProfileMissing",
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


class NotClaimed(DomainError):
    """The Slack workspace's team has no owner yet: the operator names one."""

    code = "team_unclaimed"


class NotInvited(DomainError):
    """The person is not a member, was not invited, and the join policy does not let them in
    (or they were removed)."""

    code = "not_invited"


class NotAdmitted(DomainError):
    """A Slack guest or external user, whom the team does not admit."""

    code = "not_admitted"


class SlackProfileMissing(DomainError):
    """The bot did not say what kind of Slack account the person has: identity never assumes."""

    code = "slack_profile_missing"


class InvalidCode(DomainError):
    """A typed one-time code that is unknown, used already, expired or meant for something else."""

    code = "invalid_code"
