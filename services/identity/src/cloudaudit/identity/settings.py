"""Identity settings: sessions, log-in protection, one-time email links and the mail server."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from cloudaudit.common.logging import register_secret
from cloudaudit.common.mail_sink import DEFAULT_SMTP_SINK_PORT
from cloudaudit.common.settings import CommonSettings
from cloudaudit.identity.domain.client_address import Network, parse_networks
from pydantic import Field, SecretStr, field_validator, model_validator

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class SmtpTls(StrEnum):
    NONE = "none"  # plain SMTP: the embedded sink, or a relay on this machine
    STARTTLS = "starttls"  # submission port 587: plain connect, then STARTTLS
    TLS = "tls"  # implicit TLS, port 465


DEFAULT_SMTP_PORTS = {SmtpTls.NONE: 25, SmtpTls.STARTTLS: 587, SmtpTls.TLS: 465}


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
    verify_token_ttl_hours: int = Field(
        default=24,
        validation_alias="IDENTITY_VERIFY_TOKEN_TTL_HOURS",
        ge=1,
        le=24 * 14,
        description="How long an email verification link works.",
    )
    reset_token_ttl_minutes: int = Field(
        default=60,
        validation_alias="IDENTITY_RESET_TOKEN_TTL_MINUTES",
        ge=5,
        le=24 * 60,
        description="How long a password reset link works.",
    )
    public_url: str | None = Field(
        default=None,
        validation_alias="IDENTITY_PUBLIC_URL",
        description="Where people open the links mailed to them (the web app's address). "
        "Unset: this machine's identity API.",
    )
    prune_interval_s: float = Field(
        default=3600.0,
        validation_alias="IDENTITY_PRUNE_INTERVAL_S",
        ge=0,
        description="How often expired sessions, used or expired links and old failed log-ins "
        "are deleted (0: never).",
    )
    trusted_proxy_header: str | None = Field(
        default=None,
        validation_alias="IDENTITY_TRUSTED_PROXY_HEADER",
        description="Header a reverse proxy names the client in (e.g. X-Forwarded-For), "
        "believed only from IDENTITY_TRUSTED_PROXIES. Unset: the socket peer is the client.",
    )
    trusted_proxies: str = Field(
        default="",
        validation_alias="IDENTITY_TRUSTED_PROXIES",
        description="Comma-separated addresses or CIDR networks of the proxies whose "
        "IDENTITY_TRUSTED_PROXY_HEADER is believed (e.g. 10.0.0.0/8).",
    )
    link_code_ttl_minutes: int = Field(
        default=10,
        validation_alias="IDENTITY_LINK_CODE_TTL_MINUTES",
        ge=1,
        le=60,
        description="How long a code linking a Slack and a web identity works.",
    )
    claim_code_ttl_hours: int = Field(
        default=24,
        validation_alias="IDENTITY_CLAIM_CODE_TTL_HOURS",
        ge=1,
        le=24 * 7,
        description="How long a claim code from `cloudaudit teams claim-code` works.",
    )
    invitation_ttl_days: int = Field(
        default=14,
        validation_alias="IDENTITY_INVITATION_TTL_DAYS",
        ge=1,
        le=90,
        description="How long an invitation to a team waits for the person.",
    )
    smtp_host: str | None = Field(
        default=None,
        validation_alias="SMTP_HOST",
        description="Mail server for sign-up links and notices. Unset: the embedded SMTP sink "
        "(mail kept in <state dir>/mail, read with `cloudaudit mail list`).",
    )
    smtp_port: int | None = Field(
        default=None,
        validation_alias="SMTP_PORT",
        ge=1,
        le=65535,
        description="Unset: 587 for starttls, 465 for tls, 25 for none.",
    )
    smtp_tls: SmtpTls = Field(
        default=SmtpTls.STARTTLS,
        validation_alias="SMTP_TLS",
        description="none, starttls or tls (implicit TLS). The embedded sink is always none.",
    )
    smtp_username: str | None = Field(default=None, validation_alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(default=None, validation_alias="SMTP_PASSWORD")
    mail_from: str = Field(
        default="CloudAudit <cloudaudit@localhost>",
        validation_alias="SMTP_FROM",
        description="The sender of every mail (an address the mail server may send as).",
    )
    embedded_smtp_port: int = Field(
        default=DEFAULT_SMTP_SINK_PORT,
        validation_alias="CLOUDAUDIT_EMBEDDED_SMTP_PORT",
        ge=0,
        le=65535,
        description="Port of the embedded SMTP sink on 127.0.0.1 (0: any free port).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        try:
            parse_networks(value)
        except ValueError as exc:
            raise ValueError(f"IDENTITY_TRUSTED_PROXIES: {exc}") from None
        return value

    @model_validator(mode="after")
    def _proxy_header_has_proxies(self) -> Self:
        if self.trusted_proxy_header and not parse_networks(self.trusted_proxies):
            raise ValueError(
                "IDENTITY_TRUSTED_PROXY_HEADER is set but IDENTITY_TRUSTED_PROXIES is empty: "
                "name the proxies whose header is believed (e.g. 10.0.0.0/8), or unset the header"
            )
        return self

    @property
    def proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @model_validator(mode="after")
    def _smtp_credentials_make_sense(self) -> Self:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SMTP_USERNAME and SMTP_PASSWORD go together: set both or neither")
        if self.smtp_host is None and self.smtp_username is not None:
            raise ValueError("SMTP_USERNAME is set but SMTP_HOST is not: set the mail server too")
        in_clear = self.smtp_tls is SmtpTls.NONE and self.smtp_password is not None
        if in_clear and (self.smtp_host or "") not in LOOPBACK_HOSTS:
            raise ValueError(
                "SMTP_TLS=none would send SMTP_PASSWORD in clear text to another machine: "
                "use SMTP_TLS=starttls or tls"
            )
        return self

    @property
    def embedded_mail(self) -> bool:
        """No mail server configured: identity serves the embedded sink itself."""
        return self.smtp_host is None

    @property
    def smtp_port_or_default(self) -> int:
        return self.smtp_port or DEFAULT_SMTP_PORTS[self.smtp_tls]

    def register_secrets(self) -> None:
        """Make the mail server's password unloggable."""
        if self.smtp_password is not None:
            register_secret(self.smtp_password.get_secret_value())
