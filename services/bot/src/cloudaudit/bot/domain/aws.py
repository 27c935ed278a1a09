"""AWS identifiers as people paste them. Pure."""

from __future__ import annotations

import re

# IAM role ARNs (IAM User Guide, "IAM identifiers"): partition aws, aws-cn or aws-us-gov;
# role names and paths use letters, digits and +=,.@_- (path segments separated by /).
ROLE_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/[\w+=,.@/-]{1,512}")


def role_arn_problem(text: str) -> str | None:
    """None when `text` is a role ARN; otherwise what is wrong with it, for the form."""
    value = text.strip()
    if not value:
        return "Paste the ARN of the role the CloudFormation stack created."
    if ROLE_ARN.fullmatch(value):
        return None
    if value.startswith("arn:aws") and ":user/" in value:
        return "That is a user ARN; CloudAudit needs the role ARN (…:role/CloudAuditReadOnly)."
    if re.fullmatch(r"\d{12}", value):
        return "That is an account id; paste the role ARN (arn:aws:iam::<account>:role/<name>)."
    return "That doesn't look like a role ARN: arn:aws:iam::123456789012:role/CloudAuditReadOnly"
