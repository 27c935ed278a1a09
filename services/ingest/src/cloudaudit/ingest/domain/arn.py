"""IAM role ARNs as customers paste them: parsed strictly, refused with the reason and the fix."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cloudaudit.ingest.domain.errors import RoleArnInvalid

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
# IAM role names: 1-64 of letters, digits and +=,.@_- ; paths: /segment/.../ of the same plus /.
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_PATH_SEGMENT = re.compile(r"^[\w+=,.@-]+$")
_ACCOUNT = re.compile(r"^\d{12}$")
_EXAMPLE = "arn:aws:iam::123456789012:role/CloudAuditReadOnly"


@dataclass(frozen=True)
class RoleArn:
    partition: str
    account_id: str
    path: str
    name: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role{self.path}{self.name}"


def _invalid(reason: str) -> RoleArnInvalid:
    return RoleArnInvalid(
        f"That is not a valid IAM role ARN: {reason}. Paste the role's ARN from the "
        f"CloudFormation stack's Outputs (RoleArn), shaped like {_EXAMPLE}."
    )


def parse_role_arn(raw: str) -> RoleArn:
    value = (raw or "").strip()
    if not value:
        raise _invalid("it is empty")
    if value.startswith(("AKIA", "ASIA")):
        raise _invalid("it looks like an access key id; CloudAudit never takes access keys")
    if not value.startswith("arn:"):
        raise _invalid("it does not start with 'arn:'")
    parts = value.split(":", 5)
    if len(parts) != 6:
        raise _invalid("it needs six ':'-separated parts (arn:partition:iam::account:role/name)")
    _, partition, service, region, account, resource = parts
    if partition not in PARTITIONS:
        raise _invalid(f"unknown partition {partition!r} (expected one of {', '.join(PARTITIONS)})")
    if service == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1] if resource.count("/") >= 1 else "NAME"
        raise _invalid(
            f"it is an assumed-role session ARN; use the role itself: "
            f"arn:{partition}:iam::{account}:role/{role}"
        )
    if service != "iam":
        raise _invalid(f"it names the {service or 'empty'!r} service; a role ARN names 'iam'")
    if region:
        raise _invalid("IAM ARNs have no region (nothing between 'iam:' and the account id)")
    if not _ACCOUNT.match(account):
        raise _invalid(f"the account id {account!r} must be exactly 12 digits")
    if not resource.startswith("role/"):
        kind = resource.split("/", 1)[0] or "nothing"
        raise _invalid(f"it points to a {kind!r}, not a role (expected ':role/NAME')")
    path_and_name = resource[len("role") :]
    path, _, name = path_and_name.rpartition("/")
    path = path + "/"
    if not _ROLE_NAME.match(name):
        raise _invalid(f"the role name {name!r} must be 1-64 letters, digits or +=,.@_-")
    segments = [s for s in path.split("/") if s]
    if any(not _PATH_SEGMENT.match(s) for s in segments) or "//" in path:
        raise _invalid(f"the role path {path!r} is malformed")
    return RoleArn(partition=partition, account_id=account, path=path, name=name)
