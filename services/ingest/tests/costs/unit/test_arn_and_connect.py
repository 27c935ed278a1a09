"""Role ARNs, ExternalIds, quick-create links, credential caching, AWS error meanings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from cloudaudit.common.events.account import ConnectStep
from cloudaudit.ingest.domain.arn import parse_role_arn
from cloudaudit.ingest.domain.connect import (
    PROBES,
    CachedCredentials,
    CredentialCache,
    assume_role_failed,
    new_external_id,
    principal_from_caller,
    probe_failed,
    quick_create_url,
)
from cloudaudit.ingest.domain.errors import RoleArnInvalid
from hypothesis import given
from hypothesis import strategies as st

NAME_CHARS = st.sampled_from(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-"
)
names = st.text(NAME_CHARS, min_size=1, max_size=64)
accounts = st.from_regex(r"\A[0-9]{12}\Z")
paths = st.lists(st.text(NAME_CHARS, min_size=1, max_size=10), max_size=3).map(
    lambda parts: "/" + "".join(p + "/" for p in parts)
)


@given(
    partition=st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    account=accounts,
    path=paths,
    name=names,
)
def test_every_valid_role_arn_parses_and_prints_back(partition, account, path, name):
    raw = f"arn:{partition}:iam::{account}:role{path}{name}"
    role = parse_role_arn(f"  {raw}\n")
    assert (role.partition, role.account_id, role.path, role.name) == (
        partition,
        account,
        path,
        name,
    )
    assert str(role) == raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "it is empty"),
        ("AKIAIOSFODNN7EXAMPLE", "access key"),
        ("role/CloudAuditReadOnly", "does not start with 'arn:'"),
        ("arn:aws:iam::123456789012", "six"),
        (
            "arn:aws:sts::123456789012:assumed-role/CloudAudit/session",
            "arn:aws:iam::123456789012:role/CloudAudit",
        ),
        ("arn:aws:s3:::my-bucket/key", "names the 's3' service"),
        ("arn:aws:iam:us-east-1:123456789012:role/X", "no region"),
        ("arn:aws:iam::12345678901:role/X", "exactly 12 digits"),
        ("arn:aws:iam::123456789012:user/alice", "not a role"),
        ("arn:aws:iam::123456789012:role/bad name", "role name"),
        ("arn:aws:iam::123456789012:role/" + "x" * 65, "role name"),
        ("arn:aws:iam::123456789012:role/a//b", "malformed"),
        ("arn:moon:iam::123456789012:role/X", "unknown partition"),
    ],
)
def test_invalid_role_arns_name_the_problem_and_show_the_shape(raw, reason):
    with pytest.raises(RoleArnInvalid) as refused:
        parse_role_arn(raw)
    assert reason in refused.value.message
    assert refused.value.step is ConnectStep.VALIDATE_ARN
    assert "arn:aws:iam::123456789012:role/CloudAuditReadOnly" in refused.value.message


def test_external_ids_are_long_random_and_distinct():
    ids = {new_external_id() for _ in range(200)}
    assert len(ids) == 200 and all(len(i) >= 32 for i in ids)


def test_quick_create_link_carries_the_parameters_url_encoded():
    url = quick_create_url(
        "https://example.com/t.yaml?v=1", "abc+/=", "arn:aws:iam::1:role/x", "eu-west-1"
    )
    parts = urlsplit(url)
    assert parts.netloc == "eu-west-1.console.aws.amazon.com"
    fragment_query = parse_qs(parts.fragment.split("?", 1)[1], keep_blank_values=True)
    assert fragment_query["templateURL"] == ["https://example.com/t.yaml?v=1"]
    assert fragment_query["param_ExternalId"] == ["abc+/="]
    assert fragment_query["param_ExportBucketName"] == [""]


def test_a_role_session_principal_is_turned_into_the_role_to_trust():
    assert (
        principal_from_caller("arn:aws:sts::123456789012:assumed-role/ingest-task/abc")
        == "arn:aws:iam::123456789012:role/ingest-task"
    )
    assert (
        principal_from_caller("arn:aws:iam::123456789012:user/ci")
        == "arn:aws:iam::123456789012:user/ci"
    )


def test_aws_errors_become_the_step_that_failed():
    role = parse_role_arn("arn:aws:iam::123456789012:role/CloudAuditReadOnly")
    assert assume_role_failed(role, "p", "AccessDenied", "").step is ConnectStep.ASSUME_ROLE
    assert assume_role_failed(role, "p", "Throttling", "").step is ConnectStep.THROTTLED
    ce = PROBES[0]
    assert probe_failed(role, ce, "DataUnavailableException", "").step is ConnectStep.COST_EXPLORER
    missing = probe_failed(role, PROBES[2], "AccessDenied", "")
    assert (
        missing.step is ConnectStep.PERMISSIONS and missing.permission == "cloudwatch:GetMetricData"
    )
    assert probe_failed(role, ce, "InternalFailure", "boom").code == "aws_error"


def test_credentials_are_reused_until_shortly_before_they_expire():
    cache = CredentialCache(refresh_margin=timedelta(minutes=5))
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    credentials = CachedCredentials("AK", "SK", "TOKEN", now + timedelta(hours=1))
    cache.put("arn:role", "ext-a", credentials)
    assert cache.get("arn:role", "ext-a", now + timedelta(minutes=54)) is credentials
    assert cache.get("arn:role", "ext-a", now + timedelta(minutes=55)) is None
    assert cache.get("arn:role", "ext-b", now) is None  # another team's ExternalId: never shared
