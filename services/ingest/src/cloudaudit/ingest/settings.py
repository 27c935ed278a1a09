"""Ingest settings, read once at start: how to reach AWS, how often and how far back to sync,
import batch sizes, and the resource inventory (regions, known accounts, reply pages)."""

from __future__ import annotations

from cloudaudit.common.settings import CommonSettings
from pydantic import Field, SecretStr, field_validator

# Cost Explorer keeps 13 months of daily history (14 with multi-year data enabled); a year
# is what every account has.
CE_MAX_HISTORY_DAYS = 365
# Room under NATS's 1 MB for the reply envelope and the account headers.
DEFAULT_PAGE_BYTES = 512 * 1024
DEFAULT_TEMPLATE_URL = (
    "https://cloudaudit-public.s3.amazonaws.com/cloudformation/cloudaudit-readonly-role.yaml"
)


class IngestSettings(CommonSettings):
    aws_endpoint_url: str | None = Field(
        default=None,
        validation_alias="AWS_ENDPOINT_URL",
        description="Send every AWS call here (a local AWS emulator); unset: the real AWS.",
    )
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    aws_access_key_id: SecretStr | None = Field(
        default=None,
        validation_alias="AWS_ACCESS_KEY_ID",
        description="CloudAudit's own principal; unset: boto3's default chain (instance role).",
    )
    aws_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias="AWS_SECRET_ACCESS_KEY"
    )
    principal_arn: str | None = Field(
        default=None,
        validation_alias="INGEST_PRINCIPAL_ARN",
        description="The ARN customers trust in their role; unset: asked from STS at first use.",
    )
    template_url: str = Field(
        default=DEFAULT_TEMPLATE_URL,
        validation_alias="INGEST_TEMPLATE_URL",
        description="Public URL of deploy/aws/cloudaudit-readonly-role.yaml for quick-create links.",
    )
    role_session_seconds: int = Field(
        default=3600, validation_alias="INGEST_ROLE_SESSION_SECONDS", ge=900, le=43200
    )
    credentials_refresh_margin_s: int = Field(
        default=300,
        validation_alias="INGEST_CREDENTIALS_REFRESH_MARGIN_S",
        ge=0,
        description="Assume the role again this long before the cached credentials expire.",
    )
    initial_sync_days: int = Field(
        default=90, validation_alias="INGEST_INITIAL_SYNC_DAYS", ge=1, le=CE_MAX_HISTORY_DAYS
    )
    restate_days: int = Field(
        default=3,
        validation_alias="INGEST_RESTATE_DAYS",
        ge=0,
        le=62,
        description="Trailing days always pulled again because AWS still restates them.",
    )
    sync_interval_minutes: int = Field(
        default=360, validation_alias="INGEST_SYNC_INTERVAL_MINUTES", ge=5
    )
    scheduler_enabled: bool = Field(default=True, validation_alias="INGEST_SCHEDULER")
    scheduler_tick_s: float = Field(default=60.0, validation_alias="INGEST_SCHEDULER_TICK_S", gt=0)
    ce_max_attempts: int = Field(default=6, validation_alias="INGEST_CE_MAX_ATTEMPTS", ge=1, le=20)
    ce_backoff_base_s: float = Field(default=1.0, validation_alias="INGEST_CE_BACKOFF_BASE_S", ge=0)
    ce_backoff_max_s: float = Field(default=30.0, validation_alias="INGEST_CE_BACKOFF_MAX_S", ge=0)
    import_block_bytes: int = Field(
        default=16 * 1024 * 1024,
        validation_alias="INGEST_IMPORT_BLOCK_BYTES",
        ge=64 * 1024,
        description="CSV bytes parsed per batch; memory stays near a few times this.",
    )
    top_drivers: int = Field(
        default=5,
        validation_alias="INGEST_TOP_DRIVERS",
        ge=1,
        le=50,
        description="Usage types and resources kept behind each daily line.",
    )

    # -- the resource inventory (recommendations ask for it)
    inventory_regions: str = Field(
        default="us-east-1",
        validation_alias="INGEST_INVENTORY_REGIONS",
        description="Comma-separated regions whose resources are listed.",
    )
    inventory_accounts: SecretStr | None = Field(
        default=None,
        validation_alias="INGEST_INVENTORY_ACCOUNTS",
        description=(
            "JSON list of accounts to inventory when no connected account is known yet: "
            '[{"team_id": ..., "account_id": ..., "aws_account_id": "123456789012", '
            '"role_arn": optional, "external_id": optional, "regions": optional}]. '
            "Without role_arn, ingest's own credentials are used (single-account installs)."
        ),
    )
    inventory_aws_timeout_s: float = Field(
        default=20.0, validation_alias="INGEST_INVENTORY_AWS_TIMEOUT_S", gt=0
    )
    inventory_aws_max_attempts: int = Field(
        default=5, validation_alias="INGEST_INVENTORY_AWS_MAX_ATTEMPTS", ge=1, le=20
    )
    inventory_findings: bool = Field(
        default=True,
        validation_alias="INGEST_INVENTORY_FINDINGS",
        description="Also read Cost Optimization Hub / Compute Optimizer findings.",
    )

    inventory_page_bytes: int = Field(
        default=DEFAULT_PAGE_BYTES,
        validation_alias="INGEST_INVENTORY_PAGE_BYTES",
        ge=16 * 1024,
        le=900 * 1024,
        description="Resource facts per inventory reply, in JSON bytes (NATS allows 1 MB).",
    )
    inventory_page_items: int = Field(
        default=5_000,
        validation_alias="INGEST_INVENTORY_PAGE_ITEMS",
        ge=1,
        le=50_000,
        description="Resources per inventory reply, at most.",
    )

    @field_validator("aws_endpoint_url")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. http://127.0.0.1:5000")
        return value.rstrip("/")

    @property
    def regions(self) -> list[str]:
        return [r.strip() for r in self.inventory_regions.split(",") if r.strip()]
