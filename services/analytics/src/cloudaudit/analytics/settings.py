"""Analytics settings, read once at start: anomaly thresholds' defaults and the alerting window;
for savings recommendations, the LLM that writes their text and refresh timing."""

from __future__ import annotations

from decimal import Decimal

from cloudaudit.common.settings import CommonSettings
from pydantic import Field, SecretStr, field_validator


class AnalyticsSettings(CommonSettings):
    anomaly_min_impact: Decimal = Field(
        default=Decimal("100"),
        validation_alias="ANALYTICS_ANOMALY_MIN_IMPACT",
        ge=0,
        description="Default USD excess an anomaly must reach (teams change theirs).",
    )
    anomaly_min_impact_pct: Decimal = Field(
        default=Decimal("20"),
        validation_alias="ANALYTICS_ANOMALY_MIN_IMPACT_PCT",
        ge=0,
        description="Default excess relative to the expected cost, in percent.",
    )
    anomaly_alert_window_days: int = Field(
        default=3,
        validation_alias="ANALYTICS_ANOMALY_ALERT_WINDOW_DAYS",
        ge=0,
        description="Only days this recent alert; older (backfilled) days only teach the model.",
    )

    # -- savings recommendations ------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias="OPENAI_API_KEY",
        description="Key of the OpenAI-compatible API; unset: texts come from templates.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias="OPENAI_BASE_URL",
        description="Any OpenAI-compatible server (https://.../v1); unset: api.openai.com.",
    )
    openai_model: str = Field(default="gpt-4o-mini", validation_alias="OPENAI_MODEL")
    openai_timeout_s: float = Field(default=20.0, validation_alias="OPENAI_TIMEOUT_S", gt=0)
    openai_max_retries: int = Field(default=2, validation_alias="OPENAI_MAX_RETRIES", ge=0, le=10)
    openai_max_tokens: int = Field(default=400, validation_alias="OPENAI_MAX_TOKENS", ge=50)
    llm_concurrency: int = Field(
        default=4, validation_alias="RECOMMENDATIONS_LLM_CONCURRENCY", ge=1, le=64
    )
    inventory_timeout_s: float = Field(
        default=120.0,
        validation_alias="RECOMMENDATIONS_INVENTORY_TIMEOUT_S",
        gt=0,
        description="How long a refresh waits for ingest to list the accounts' resources.",
    )
    metric_days: int = Field(
        default=14, validation_alias="RECOMMENDATIONS_METRIC_DAYS", ge=14, le=30
    )
    verify_interval_s: float = Field(
        default=6 * 3600,
        validation_alias="RECOMMENDATIONS_VERIFY_INTERVAL_S",
        ge=0,
        description="How often approved recommendations are checked against AWS; 0: never.",
    )
    refresh_on_sync: bool = Field(default=True, validation_alias="RECOMMENDATIONS_REFRESH_ON_SYNC")

    @field_validator("openai_base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://api.openai.com/v1")
        return value.rstrip("/")
