"""Identity settings: sessions and log-in protection."""

from cloudaudit.common.settings import CommonSettings
from pydantic import Field


class IdentitySettings(CommonSettings):
    session_ttl_hours: int = Field(
        default=12, validation_alias="IDENTITY_SESSION_TTL_HOURS", ge=1, le=720
    )
    login_max_failures: int = Field(
        default=5,
        validation_alias="IDENTITY_LOGIN_MAX_FAILURES",
        ge=1,
        description="Failed log-ins per email (or per client address) before a lock-out.",
    )
    login_window_minutes: int = Field(
        default=15, validation_alias="IDENTITY_LOGIN_WINDOW_MINUTES", ge=1
    )
