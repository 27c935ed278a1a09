"""Analytics settings: anomaly thresholds' defaults and the alerting window."""

from decimal import Decimal

from cloudaudit.common.settings import CommonSettings
from pydantic import Field


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
