"""Settings of the resource inventory: where AWS answers, which regions, and known accounts."""

from __future__ import annotations

from cloudaudit.common.settings import CommonSettings
from pydantic import Field, SecretStr, field_validator


class InventorySettings(CommonSettings):
    aws_endpoint_url: str | None = Field(
        default=None,
        validation_alias="AWS_ENDPOINT_URL",
        description="Send every AWS call here (a local AWS emulator); unset: the real AWS.",
    )
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
