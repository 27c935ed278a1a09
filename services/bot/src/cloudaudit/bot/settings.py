"""Bot settings: Slack credentials, connection mode, Web API base URL, digest schedule."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from cloudaudit.common.logging import register_secret
from cloudaudit.common.settings import CommonSettings

SLACK_API_DEFAULT = "https://slack.com/api/"
DEFAULT_BOT_SCOPES = (
    "commands,chat:write,chat:write.public,files:write,im:write,users:read,users:read.email,"
    "channels:read,groups:read,channels:history,groups:history"
)


class SlackMode(StrEnum):
    HTTP_OAUTH = "http_oauth"  # many workspaces, installation store in PostgreSQL
    HTTP_TOKEN = "http_token"  # noqa: S105 - one workspace, a bot token from the environment
    SOCKET = "socket"  # one workspace, no public URL
    DISABLED = "disabled"  # nothing configured: use `cloudaudit slack-console`


class BotSettings(CommonSettings):
    signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    app_token: SecretStr | None = Field(
        default=None, validation_alias="SLACK_APP_TOKEN", description="xapp- token for Socket Mode."
    )
    client_id: str | None = Field(default=None, validation_alias="SLACK_CLIENT_ID")
    client_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_CLIENT_SECRET")
    scopes: str = Field(default=DEFAULT_BOT_SCOPES, validation_alias="SLACK_SCOPES")
    redirect_uri: str | None = Field(default=None, validation_alias="SLACK_REDIRECT_URI")
    api_url: str = Field(
        default=SLACK_API_DEFAULT,
        validation_alias="SLACK_API_URL",
        description="Slack Web API base URL; point it at a local Slack for demos and tests.",
    )
    authorize_url: str | None = Field(
        default=None,
        validation_alias="SLACK_AUTHORIZE_URL",
        description="Where the install page sends people (default Slack's oauth/v2/authorize).",
    )
    http_port: int = Field(default=3000, validation_alias="BOT_HTTP_PORT", ge=0, le=65535)
    state_expiration_s: int = Field(default=600, validation_alias="SLACK_STATE_EXPIRATION_S", ge=60)
    digest_hour: int = Field(
        default=9,
        validation_alias="BOT_DIGEST_HOUR",
        ge=0,
        le=23,
        description="Local hour (team time zone) at which digests are posted unless set per team.",
    )
    digest_check_interval_s: float = Field(
        default=60.0, validation_alias="BOT_DIGEST_CHECK_INTERVAL_S", gt=0
    )
    data_key: SecretStr | None = Field(
        default=None,
        validation_alias="CLOUDAUDIT_DATA_KEY",
        description="Encrypts the Slack tokens the OAuth mode stores: `id:<base64 32 bytes>`, "
        "several comma-separated while rotating (newest, current, last). Unset: a key "
        "generated once in <state dir>/keys/data.key (the embedded setup only: set it "
        "wherever the state directory does not survive a restart, or several bots share "
        "the database).",
    )
    max_retry_after_s: float = Field(
        default=60.0,
        validation_alias="BOT_MAX_RETRY_AFTER_S",
        gt=0,
        description="Longest Retry-After of a Slack 429 the bot waits out before giving up.",
    )

    @field_validator("api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("data_key")
    @classmethod
    def _check_data_key(cls, value: SecretStr | None) -> SecretStr | None:
        from cloudaudit.common.data_keys import DataKeyError, parse_keys

        if value is None or not value.get_secret_value().strip():
            return value  # unset; set but empty is refused with every other empty secret
        try:
            parse_keys(value.get_secret_value(), source="")  # the error names the variable
        except DataKeyError as exc:
            # not a ValueError: pydantic would prefix "Value error, " to the message
            raise PydanticCustomError("data_key", "{reason}", {"reason": exc.message}) from None
        return value

    @property
    def mode(self) -> SlackMode:
        if self.app_token is not None and self.bot_token is not None:
            return SlackMode.SOCKET
        if self.signing_secret is None:
            return SlackMode.DISABLED
        if self.client_id and self.client_secret is not None:
            return SlackMode.HTTP_OAUTH
        if self.bot_token is not None:
            return SlackMode.HTTP_TOKEN
        return SlackMode.DISABLED

    def register_secrets(self) -> None:
        """Make every Slack credential unloggable."""
        secrets = (
            self.signing_secret,
            self.bot_token,
            self.app_token,
            self.client_secret,
            self.data_key,
        )
        for secret in secrets:
            if secret is not None:
                register_secret(secret.get_secret_value())

    @staticmethod
    def reveal(secret: SecretStr | None) -> str | None:
        return None if secret is None else secret.get_secret_value()
