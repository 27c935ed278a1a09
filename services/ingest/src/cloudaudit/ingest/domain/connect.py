"""Connecting an account: the permissions we check, what each AWS error means, the fix to show."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from cloudaudit.ingest.domain.arn import RoleArn
from cloudaudit.ingest.domain.errors import (
    AwsThrottled,
    AwsUnavailable,
    ConnectFailed,
    CostExplorerNotEnabled,
    PermissionMissing,
    RoleNotAssumable,
)

STACK_NAME = "CloudAuditReadOnly"
EXTERNAL_ID_BYTES = 24  # 32 URL-safe characters; AWS allows 2-1224

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "RequestThrottled",
        "RequestThrottledException",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthorizationError",
        "403",
    }
)


@dataclass(frozen=True)
class Probe:
    """One cheap, read-only call proving the role holds one permission we rely on."""

    permission: str
    service: str
    operation: str
    needed_for: str


# In the order a user fixes them: cost data first, then what recommendations need.
PROBES: tuple[Probe, ...] = (
    Probe("ce:GetCostAndUsage", "ce", "GetCostAndUsage", "daily cost sync"),
    Probe("ec2:DescribeInstances", "ec2", "DescribeInstances", "the resource inventory"),
    Probe("cloudwatch:GetMetricData", "cloudwatch", "GetMetricData", "idle-resource detection"),
)
EXPORT_BUCKET_PROBE = Probe("s3:ListBucket", "s3", "ListObjectsV2", "importing your CUR export")


def new_external_id() -> str:
    return secrets.token_urlsafe(EXTERNAL_ID_BYTES)


def quick_create_url(
    template_url: str,
    external_id: str,
    principal_arn: str,
    region: str = "us-east-1",
    export_bucket: str = "",
) -> str:
    """A CloudFormation quick-create link with our principal and the team's ExternalId filled."""
    params = {
        "templateURL": template_url,
        "stackName": STACK_NAME,
        "param_ExternalId": external_id,
        "param_CloudAuditPrincipalArn": principal_arn,
        "param_ExportBucketName": export_bucket,
    }
    query = urlencode(params, quote_via=quote, safe="")
    return (
        f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
        f"#/stacks/quickcreate?{query}"
    )


def principal_from_caller(arn: str) -> str:
    """STS reports a role session (assumed-role/NAME/session); customers must trust the role."""
    if ":assumed-role/" in arn:
        head, _, rest = arn.partition(":assumed-role/")
        role = rest.split("/", 1)[0]
        return head.replace(":sts:", ":iam:") + f":role/{role}"
    return arn


def throttled(role: RoleArn, operation: str) -> AwsThrottled:
    return AwsThrottled(
        f"AWS kept throttling {operation} for account {role.account_id} after several retries. "
        f"Nothing is wrong with your set-up: try again in a few minutes."
    )


def assume_role_failed(role: RoleArn, principal_arn: str, code: str, message: str) -> ConnectFailed:
    """AWS gives one AccessDenied for a missing role, a wrong trust policy or a wrong ExternalId."""
    if code in THROTTLING_CODES:
        return throttled(role, "AssumeRole")
    if code in ACCESS_DENIED_CODES or code in {"InvalidClientTokenId", "NoSuchEntity"}:
        return RoleNotAssumable(
            f"CloudAudit could not assume {role} (AWS said {code}). Check that: (1) the role "
            f"exists in account {role.account_id} with exactly this name; (2) its trust policy "
            f"allows {principal_arn}; (3) its trust policy requires sts:ExternalId equal to your "
            f"team's ExternalId (`cloudaudit accounts external-id`). Creating the stack from "
            f"the quick-create link sets all three."
        )
    return AwsUnavailable(f"AssumeRole on {role} failed with {code}: {message}"[:500])


def probe_failed(
    role: RoleArn, probe: Probe, code: str, message: str
) -> ConnectFailed | AwsUnavailable:
    if code in THROTTLING_CODES:
        return throttled(role, probe.operation)
    if probe.service == "ce" and code == "DataUnavailableException":
        return CostExplorerNotEnabled(
            f"Cost Explorer is not enabled for account {role.account_id}. In the AWS console open "
            f"Billing and Cost Management > Cost Explorer and choose 'Launch Cost Explorer' "
            f"(with the management account for an organization); data appears within 24 hours. "
            f"Then connect again."
        )
    if code in ACCESS_DENIED_CODES:
        return PermissionMissing(
            f"The role {role.name} in account {role.account_id} lacks {probe.permission}, "
            f"needed for {probe.needed_for}. Update the CloudFormation stack to the current "
            f"template (or add {probe.permission} to the role's policy), then connect again.",
            permission=probe.permission,
        )
    return AwsUnavailable(
        f"Checking {probe.permission} on account {role.account_id} failed with {code}: {message}"
    )


@dataclass(frozen=True)
class CachedCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: datetime


class CredentialCache:
    """Role credentials per (role, ExternalId), reused until shortly before they expire."""

    def __init__(self, refresh_margin: timedelta) -> None:
        self._margin = refresh_margin
        self._entries: dict[tuple[str, str], CachedCredentials] = {}

    def get(self, role_arn: str, external_id: str, now: datetime) -> CachedCredentials | None:
        entry = self._entries.get((role_arn, external_id))
        if entry is None or entry.expires_at - self._margin <= now:
            return None
        return entry

    def put(self, role_arn: str, external_id: str, credentials: CachedCredentials) -> None:
        self._entries[(role_arn, external_id)] = credentials

    def forget(self, role_arn: str, external_id: str) -> None:
        self._entries.pop((role_arn, external_id), None)
