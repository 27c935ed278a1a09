"""Web app settings: where identity's account API answers, cookie security, the session key."""

from __future__ import annotations

import secrets

from pydantic import Field, SecretStr

from cloudaudit.common.logging import register_secret
from cloudaudit.common.settings import CommonSettings


class WebSettings(CommonSettings):
    identity_url: str | None = Field(
        default=None,
        validation_alias="WEB_IDENTITY_URL",
        description="Identity's account API (sign-up, verify, log-in); default "
        "http://127.0.0.1:IDENTITY_API_PORT.",
    )
    secure_cookies: bool = Field(
        default=False,
        validation_alias="WEB_SECURE_COOKIES",
        description="Mark cookies Secure: set it whenever the app is served behind TLS.",
    )
    csrf_key: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        validation_alias="WEB_CSRF_KEY",
        description="Signs the CSRF tokens of forms; set the same value on every replica "
        "(unset: one generated per process, so forms opened before a restart are refused).",
    )

    def identity_api(self) -> str:
        return (self.identity_url or f"http://127.0.0.1:{self.identity_api_port}").rstrip("/")

    def register_secrets(self) -> None:
        register_secret(self.csrf_key.get_secret_value())
