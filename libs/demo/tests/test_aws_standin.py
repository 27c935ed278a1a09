"""The demo's AWS stand-in behaves like the simulated company's AWS: same ids on every run,
and IAM checked as AWS checks it (a role the company does not have is refused)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from cloudaudit.common.infra import Endpoints
from cloudaudit.demo.company import PROD, Scenario
from cloudaudit.demo.stack import ProductStack

ENDPOINTS = Endpoints(database_url="postgresql://unused/db", nats_url="nats://127.0.0.1:1")


@contextlib.contextmanager
def standin(state: Path, enforce: bool) -> Iterator[ProductStack]:
    stack = ProductStack(
        endpoints=ENDPOINTS,
        state_dir=state,
        scenario=Scenario(end=date(2026, 12, 1)),
        enforce_aws_iam=enforce,
    )
    try:
        stack._start_aws()
        yield stack
    finally:
        if stack._moto is not None:
            stack._moto.terminate()
            stack._moto.wait(10)


def _sts(stack: ProductStack, key: str, secret: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "sts",
        endpoint_url=stack.aws_url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_company_is_the_same_on_every_run_and_unknown_roles_are_refused(tmp_path):
    with standin(tmp_path / "first", enforce=True) as first:
        assert first.ids is not None
        sts = _sts(first, *first.aws_keys)
        creds = sts.assume_role(
            RoleArn=PROD.role_arn, RoleSessionName="test", ExternalId="any-team-external-id"
        )["Credentials"]
        ec2 = boto3.client(
            "ec2",
            endpoint_url=first.aws_url,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        seen = {
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
        }
        assert first.ids.idle in seen  # the read-only policy lets CloudAudit look
        # Launched when the company's story says (moto alone stamps the seeding time, so no
        # instance would have run the whole window a Savings Plan is sized on).
        launched = {
            i["InstanceId"]: i["LaunchTime"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
        }
        scenario = first.scenario
        history_start = datetime(*scenario.start.timetuple()[:3], tzinfo=UTC)
        jump_start = datetime(*scenario.jump_start.timetuple()[:3], tzinfo=UTC)
        assert {launched[i] for i in (*first.ids.web, first.ids.idle)} == {history_start}
        assert {launched[i] for i in first.ids.jump} == {jump_start}
        cloudwatch = boto3.client(
            "cloudwatch",
            endpoint_url=first.aws_url,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        cloudwatch.get_metric_data(  # what connect probes for idle-resource detection
            MetricDataQueries=[
                {
                    "Id": "cpu",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/EC2",
                            "MetricName": "CPUUtilization",
                            "Dimensions": [{"Name": "InstanceId", "Value": first.ids.idle}],
                        },
                        "Period": 3600,
                        "Stat": "Average",
                    },
                }
            ],
            StartTime=datetime(2026, 11, 1, tzinfo=UTC),
            EndTime=datetime(2026, 11, 2, tzinfo=UTC),
        )
        with pytest.raises(ClientError) as missing:
            sts.assume_role(
                RoleArn=f"arn:aws:iam::{PROD.aws_account_id}:role/NoSuchRole",
                RoleSessionName="test",
            )
        assert missing.value.response["Error"]["Code"] in ("AccessDenied", "NoSuchEntity")
        with pytest.raises(ClientError):
            _sts(first, "not-a-key", "not-a-secret").assume_role(
                RoleArn=PROD.role_arn, RoleSessionName="test"
            )
    with standin(tmp_path / "second", enforce=False) as second:
        assert second.ids == first.ids
