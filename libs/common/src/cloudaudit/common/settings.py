"""Base settings every CloudAudit component reads once (pydantic-settings), and their errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from cloudaudit.common.bus_tls import ClientTls

DEFAULT_NATS_PORT = 4222
DEFAULT_POSTGRES_PORT = 54329


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable and the fix."""


def _default_state_dir() -> Path:
    return platformdirs.user_state_path("cloudaudit")


# Variables an earlier version read, and what replaced them.
RENAMED_VARIABLES = {"BOT_HTTP_HOST": "CLOUDAUDIT_HTTP_HOST"}


class CommonSettings(BaseSettings):
    """Settings shared by every service. Environment variables only; `.env` is read if present."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL URL (postgresql://user:pass@host:port/db). Unset: embedded server.",
    )
    nats_url: SecretStr | None = Field(
        default=None,
        validation_alias="NATS_URL",
        description="NATS URL (nats://host:4222), JetStream enabled; it may hold a password, so "
        "it is a secret (`nats_url_value()`). Unset: embedded server.",
    )
    nats_ca_file: Path | None = Field(
        default=None,
        validation_alias="NATS_CA_FILE",
        description="PEM CA certificate(s) the NATS server's certificate is verified against "
        "(its name in NATS_URL checked too); setting it turns TLS on. Unset with a tls:// "
        "URL: the system trust store. The embedded NATS with TLS sets it for its services.",
    )
    nats_cert_file: Path | None = Field(
        default=None,
        validation_alias="NATS_CERT_FILE",
        description="PEM client certificate, for a NATS server that requires one (with "
        "NATS_KEY_FILE).",
    )
    nats_key_file: Path | None = Field(
        default=None,
        validation_alias="NATS_KEY_FILE",
        description="PEM private key of NATS_CERT_FILE.",
    )
    embedded_nats_tls: bool = Field(
        default=False,
        validation_alias="CLOUDAUDIT_EMBEDDED_NATS_TLS",
        description="The embedded NATS speaks TLS only, with a certificate for 127.0.0.1 and "
        "localhost from a development CA generated in <state dir>/nats/tls/.",
    )
    bus_credentials_dir: Path | None = Field(
        default=None,
        validation_alias="CLOUDAUDIT_BUS_CREDENTIALS_DIR",
        description="Directory of the bus users' credentials (<user>.password, and after "
        "`cloudaudit creds rotate` <user>.current): a process re-reads its user's at every "
        "reconnection, so rotated credentials need no restart. `cloudaudit up` sets it.",
    )
    db_role_prefix: str = Field(
        default="cloudaudit_",
        validation_alias="CLOUDAUDIT_DB_ROLE_PREFIX",
        description="Services connect as <prefix><service> (cloudaudit_ingest, ...).",
    )
    db_credentials_dir: Path | None = Field(
        default=None,
        validation_alias="CLOUDAUDIT_DB_CREDENTIALS_DIR",
        description="Directory of <service>.password files: `migrate` sets each service "
        "role's password from it. Unset with the embedded PostgreSQL: generated in the state dir.",
    )
    state_dir: Path = Field(
        default_factory=_default_state_dir,
        validation_alias="CLOUDAUDIT_STATE_DIR",
        description="Where embedded servers keep their data, pid files and logs.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="CLOUDAUDIT_LOG_LEVEL"
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        validation_alias="CLOUDAUDIT_LOG_FORMAT",
        description="json in production; console is readable on a terminal; auto picks by tty.",
    )
    bus_prefix: str = Field(
        default="",
        validation_alias="CLOUDAUDIT_BUS_PREFIX",
        description="Prefix for every subject and stream, to share one NATS between deployments.",
    )
    embedded_nats_port: int = Field(
        default=DEFAULT_NATS_PORT, validation_alias="CLOUDAUDIT_EMBEDDED_NATS_PORT", ge=1, le=65535
    )
    embedded_postgres_port: int = Field(
        default=DEFAULT_POSTGRES_PORT,
        validation_alias="CLOUDAUDIT_EMBEDDED_POSTGRES_PORT",
        ge=1,
        le=65535,
    )
    max_deliveries: int = Field(
        default=5,
        validation_alias="CLOUDAUDIT_MAX_DELIVERIES",
        ge=1,
        description="Attempts before a message is dead-lettered.",
    )
    transient_retry_for_s: float = Field(
        default=3600.0,
        validation_alias="CLOUDAUDIT_TRANSIENT_RETRY_FOR_S",
        gt=0,
        description="How long a message is retried while PostgreSQL or NATS is unavailable "
        "or in trouble (disk full, failover, deadlock, timeout) before it is dead-lettered.",
    )
    outbox_max_lag_s: float = Field(
        default=300.0,
        validation_alias="CLOUDAUDIT_OUTBOX_MAX_LAG_S",
        gt=0,
        description="/readyz fails while the oldest unpublished outbox event is older than this.",
    )

    stream_replicas: int = Field(
        default=1,
        validation_alias="CLOUDAUDIT_STREAM_REPLICAS",
        ge=1,
        le=5,
        description="JetStream replicas per stream (3 on a 3-node NATS cluster).",
    )
    create_streams: bool = Field(
        default=True,
        validation_alias="CLOUDAUDIT_CREATE_STREAMS",
        description="A service creates or updates the JetStream streams at start. false where "
        "the bus lets only the operator manage streams (`cloudaudit migrate` creates them); "
        "the embedded bus needs no setting: `up`, `run` and `migrate` create them as the operator.",
    )
    actor_signing_keys: SecretStr | None = Field(
        default=None,
        validation_alias="CLOUDAUDIT_ACTOR_SIGNING_KEYS",
        description="Identity only: JWKS (JSON) of its Ed25519 private keys, newest last. "
        "Unset: generated in the state directory at identity's first start.",
    )
    actor_public_keys: str | None = Field(
        default=None,
        validation_alias="CLOUDAUDIT_ACTOR_PUBLIC_KEYS",
        description="JWKS (JSON) of identity's public keys, to verify actor tokens. Unset: "
        "read from <state dir>/actor-keys/public-keys.json.",
    )
    http_host: str = Field(
        default="127.0.0.1",
        validation_alias="CLOUDAUDIT_HTTP_HOST",
        description="Address every HTTP listener binds (health, metrics, identity's API, the "
        "bot's Slack endpoint): loopback on a laptop; 0.0.0.0 in containers (the image sets it) "
        "so probes reach the pod's address.",
    )
    identity_api_port: int = Field(
        default=8086,
        validation_alias="IDENTITY_API_PORT",
        ge=0,
        le=65535,
        description="Identity's public API (sign-up, log-in); health and metrics stay on "
        "IDENTITY_HTTP_PORT, an internal port.",
    )
    identity_http_port: int = Field(default=8081, validation_alias="IDENTITY_HTTP_PORT")
    ingest_http_port: int = Field(default=8082, validation_alias="INGEST_HTTP_PORT")
    analytics_http_port: int = Field(default=8083, validation_alias="ANALYTICS_HTTP_PORT")
    bot_health_port: int = Field(
        default=8084,
        validation_alias="BOT_HEALTH_PORT",
        description="Health/metrics port of the bot (Slack itself is served on BOT_HTTP_PORT).",
    )

    web_api_port: int = Field(
        default=8080,
        validation_alias="WEB_HTTP_PORT",
        ge=0,
        le=65535,
        description="The web app's pages; its health and metrics stay on WEB_HEALTH_PORT.",
    )
    web_http_port: int = Field(default=8085, validation_alias="WEB_HEALTH_PORT")

    def http_port_for(self, service: str) -> int:
        """The internal health/metrics port of a service process."""
        return int(getattr(self, f"{service}_http_port", None) or self.bot_health_port)

    def api_port_for(self, service: str) -> int | None:
        """The public port of a service that has one (identity's API, the web app's pages)."""
        return {"identity": self.identity_api_port, "web": self.web_api_port}.get(service)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        raw = value.get_secret_value()
        if not raw.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
            raise ValueError("must start with postgresql:// (e.g. postgresql://user:pass@host/db)")
        from urllib.parse import parse_qs

        modes = parse_qs(urlsplit(raw).query).get("sslmode", [])
        allowed = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
        if any(mode not in allowed for mode in modes):
            raise ValueError(
                f"sslmode must be one of {', '.join(allowed)} (verify-full in production)"
            )
        return value

    @field_validator("nats_url")
    @classmethod
    def _check_nats_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        for server in value.get_secret_value().split(","):
            if not server.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError("must start with nats:// or tls:// (e.g. nats://localhost:4222)")
        from cloudaudit.common.logging import register_secret

        register_secret(value.get_secret_value())  # its password, if any, is never logged
        return value

    def nats_url_value(self) -> str | None:
        """The configured NATS URL itself (None: the embedded server); never print it."""
        return self.nats_url.get_secret_value() if self.nats_url is not None else None

    @field_validator(
        "nats_ca_file", "nats_cert_file", "nats_key_file", "bus_credentials_dir", mode="before"
    )
    @classmethod
    def _empty_path_is_unset(cls, value: Any) -> Any:
        # `cloudaudit up` hands every child all three TLS variables, empty where unused, so a
        # CA file exported in the parent's shell never applies to the embedded plaintext bus.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _client_certificate_pairs(self) -> Self:
        if (self.nats_cert_file is None) != (self.nats_key_file is None):
            raise ValueError(
                "NATS_CERT_FILE and NATS_KEY_FILE go together: set both (a client certificate "
                "and its private key) or neither"
            )
        return self

    def nats_client_tls(self) -> ClientTls:
        """What this process trusts and presents when it connects to a configured NATS."""
        from cloudaudit.common.bus_tls import ClientTls

        return ClientTls(self.nats_ca_file, self.nats_cert_file, self.nats_key_file)

    @field_validator("db_role_prefix")
    @classmethod
    def _check_role_prefix(cls, value: str) -> str:
        if not value.replace("_", "").isalnum() or value.lower() != value:
            raise ValueError("may contain only lower-case letters, digits and '_'")
        return value

    @field_validator("bus_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if value and not value.replace("_", "").replace("-", "").isalnum():
            raise ValueError("may contain only letters, digits, '-' and '_'")
        return value

    @model_validator(mode="after")
    def _no_empty_secrets(self) -> Self:
        """A secret set to "" is a typo or an unfilled template, never "not configured": it would
        start a bot that signs nothing or an LLM client that fails every call later."""
        empty = [
            str(info.validation_alias or name)
            for name, info in type(self).model_fields.items()
            if isinstance(value := getattr(self, name), SecretStr)
            and not value.get_secret_value().strip()
        ]
        if empty:
            raise ValueError(
                f"{', '.join(empty)} set but empty: give each a value, or unset it "
                "(remove it from the environment or .env) to run without it"
            )
        return self

    @model_validator(mode="after")
    def _no_renamed_variables(self) -> Self:
        """A variable an earlier version read would otherwise be ignored without a word."""
        found = [
            f"{old} is now {new}" for old, new in RENAMED_VARIABLES.items() if old in os.environ
        ]
        if found:
            raise ValueError("; ".join(found) + ": rename it in the environment or .env")
        return self

    def local_http_host(self) -> str:
        """Where a process on this machine reaches the services' HTTP listeners."""
        return "127.0.0.1" if self.http_host in ("0.0.0.0", "::", "") else self.http_host  # noqa: S104

    @property
    def embedded(self) -> bool:
        """True when either server must be started locally."""
        return self.database_url is None or self.nats_url is None


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Read settings once; turn pydantic's error into one naming each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            if not error["loc"]:  # a rule over several settings names them in its message
                problems.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            field = str(error["loc"][0])
            info = cls.model_fields.get(field)
            variable = info.validation_alias if info and info.validation_alias else field
            problems.append(f"{variable}: {error['msg']}")
        raise SettingsError(
            "Invalid configuration: " + "; ".join(problems) + ". Fix the environment variable "
            "(or .env file) and start again."
        ) from None


def masked_url(url: str) -> str:
    """A server URL fit to print: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
