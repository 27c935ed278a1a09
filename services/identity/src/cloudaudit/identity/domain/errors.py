"""Identity errors a user can act on: each carries a code and a message naming the fix."""


class IdentityError(Exception):
    code = "identity_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(IdentityError):
    code = "not_found"


class Forbidden(IdentityError):
    code = "forbidden"


class Conflict(IdentityError):
    code = "conflict"


class InvalidInput(IdentityError):
    code = "invalid_input"


class LastOwner(IdentityError):
    code = "last_owner"


class TooManyAttempts(IdentityError):
    code = "rate_limited"


class InvalidCredentials(IdentityError):
    code = "invalid_credentials"
