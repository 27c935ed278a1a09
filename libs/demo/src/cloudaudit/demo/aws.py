"""Seed the local AWS stand-in (moto server) with the simulated company."""

from __future__ import annotations

import json
import random
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from cloudaudit.common.clock import utcnow
from cloudaudit.demo.company import (
    CUR_BUCKET,
    DEV,
    PROD,
    DemoAccount,
    ResourceIds,
    Scenario,
    cur_files,
)
from cloudaudit.demo.standin_server import LAUNCH_TIMES_PATH

REGION = "us-east-1"
METRIC_DAYS = 16  # a little over the 14 days the idle rule needs, whole days included
# The principal CloudAudit runs as; the customer's role trusts it with the team's ExternalId.
CLOUDAUDIT_ACCOUNT = "123456789012"
PRINCIPAL_USER = "cloudaudit"
PRINCIPAL_ARN = f"arn:aws:iam::{CLOUDAUDIT_ACCOUNT}:user/{PRINCIPAL_USER}"
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": PRINCIPAL_ARN}, "Action": "sts:AssumeRole"}
        ],
    }
)
# The stand-in draws every resource id from one random generator: seeded the same way before
# the same seeding calls, the simulated company has the same ids on every run, so a second
# `make demo` finds the recommendations (and decisions) of the first, not new look-alikes.
MOTO_ID_SEED = 2026
# What customers deploy (deploy/aws/); the demo's roles carry it, so the demo also proves the
# least-privilege policy is enough.
READONLY_POLICY = Path(__file__).resolve().parents[5] / "deploy/aws/cloudaudit-readonly-policy.json"


def _moto_api(endpoint_url: str, path: str, body: bytes = b"") -> None:
    url = f"{endpoint_url}/moto-api/{path}"
    # text/plain: a form content type would leave the body to the form parser, not to moto
    headers = {"Content-Type": "text/plain"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        response.read()


def _launched(endpoint_url: str, account: DemoAccount, moments: dict[str, date]) -> None:
    """Backdate the instances to the day the company's story launched them (the stand-in
    stamps them with the seeding time, as if the CUR history had billed nothing)."""
    launched = {
        instance_id: datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()
        for instance_id, day in moments.items()
    }
    body = json.dumps(
        {"account": account.aws_account_id, "region": REGION, "launched": launched}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        endpoint_url + LAUNCH_TIMES_PATH,
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        changed = json.loads(response.read())["changed"]
    if changed != len(launched):
        raise RuntimeError(f"the AWS stand-in backdated {changed} of {len(launched)} instances")


def make_ids_stable(endpoint_url: str) -> None:
    """Call before `seed` on a fresh stand-in: same ids as every earlier run."""
    _moto_api(endpoint_url, f"seed?a={MOTO_ID_SEED}")


def _readonly_policy() -> str:
    if READONLY_POLICY.exists():
        text = READONLY_POLICY.read_text()
    else:  # installed without the repository: the same statements, inline
        text = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "ce:Get*",
                            "ce:Describe*",
                            "cost-optimization-hub:Get*",
                            "cost-optimization-hub:List*",
                            "compute-optimizer:Get*",
                            "compute-optimizer:Describe*",
                            "ec2:Describe*",
                            "cloudwatch:GetMetricData",
                        ],
                        "Resource": "*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                        "Resource": ["arn:aws:s3:::EXPORT_BUCKET", "arn:aws:s3:::EXPORT_BUCKET/*"],
                    },
                ],
            }
        )
    policy = json.loads(text.replace("EXPORT_BUCKET", CUR_BUCKET))
    for statement in policy["Statement"]:
        # The stand-in checks CloudWatch calls under its signing name "monitoring" (AWS itself
        # uses "cloudwatch"): the same permission, spelled twice.
        actions = statement["Action"]
        actions += [a.replace("cloudwatch:", "monitoring:") for a in actions if "cloudwatch:" in a]
    return json.dumps(policy)


def enforce_iam(endpoint_url: str) -> tuple[str, str]:
    """From now on the stand-in checks every request as AWS does: unknown keys, roles that do
    not exist, trust policies and permission policies are refused. Returns the access key of
    CloudAudit's own principal, the only one allowed to assume the company's roles."""
    iam = _session(endpoint_url, CLOUDAUDIT_ACCOUNT).client("iam", endpoint_url=endpoint_url)
    if PRINCIPAL_USER not in {u["UserName"] for u in iam.list_users()["Users"]}:
        iam.create_user(UserName=PRINCIPAL_USER)
    iam.put_user_policy(
        UserName=PRINCIPAL_USER,
        PolicyName="assume-customer-roles",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                # The company's roles only: the stand-in (like moto) does not check that a role
                # exists, so this is what makes a mistyped or foreign role ARN fail as in AWS.
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": [PROD.role_arn, DEV.role_arn],
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=PRINCIPAL_USER)["AccessKey"]
    for account in (PROD, DEV):
        _session(endpoint_url, account).client("iam", endpoint_url=endpoint_url).put_role_policy(
            RoleName=account.role_name,
            PolicyName="CloudAuditReadOnly",
            PolicyDocument=_readonly_policy(),
        )
    _moto_api(endpoint_url, "reset-auth", b"0")
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


def _session(endpoint_url: str, account: DemoAccount | str) -> boto3.Session:
    """Credentials inside the account (the stand-in keys resources by the assumed account)."""
    account_id = account if isinstance(account, str) else account.aws_account_id
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",  # noqa: S106 - the local AWS stand-in accepts any key
    )
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/demo-seeder",
        RoleSessionName="demo-seed",
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def _linux_image(ec2: Any) -> str:
    """A Linux AMI: the bundled price table (and so the rules) covers Linux on-demand rates."""
    return str(
        next(
            image["ImageId"]
            for image in ec2.describe_images(Owners=["amazon"])["Images"]
            if image.get("Platform") != "windows"
        )
    )


def _instances(ec2: Any, instance_type: str, count: int, name: str) -> list[str]:
    reservation = ec2.run_instances(
        ImageId=_linux_image(ec2),
        InstanceType=instance_type,
        MinCount=count,
        MaxCount=count,
        # Current practice: gp3 root volumes (gp2 waste is shown by the unattached volume).
        BlockDeviceMappings=[
            {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 20, "VolumeType": "gp3"}}
        ],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    return [i["InstanceId"] for i in reservation["Instances"]]


def _cpu_metrics(
    cloudwatch: Any,
    instance_id: str,
    low: float,
    high: float,
    now: datetime,
    network_bytes_per_hour: float = 50_000_000,
) -> None:
    rng = random.Random(instance_id)
    data = []
    for hour in range(METRIC_DAYS * 24):
        ts = now - timedelta(hours=hour)
        data.append(
            {
                "MetricName": "CPUUtilization",
                "Timestamp": ts,
                "Unit": "Percent",
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                "Value": rng.uniform(low, high),
            }
        )
        data.append(
            {
                "MetricName": "NetworkIn",
                "Timestamp": ts,
                "Unit": "Bytes",
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                "Value": network_bytes_per_hour * rng.uniform(0.8, 1.2),
            }
        )
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=data[start : start + 500])


def seed(endpoint_url: str, scenario: Scenario) -> ResourceIds:
    """Create the company's roles, resources, metrics and CUR export. Idempotent per server."""
    now = utcnow()
    for account in (PROD, DEV):
        iam = _session(endpoint_url, account).client("iam", endpoint_url=endpoint_url)
        existing = {r["RoleName"] for r in iam.list_roles()["Roles"]}
        if account.role_name not in existing:
            iam.create_role(RoleName=account.role_name, AssumeRolePolicyDocument=TRUST_POLICY)

    prod = _session(endpoint_url, PROD)
    ec2 = prod.client("ec2", endpoint_url=endpoint_url)
    cloudwatch = prod.client("cloudwatch", endpoint_url=endpoint_url)
    web = _instances(ec2, "m5.large", 4, "web")
    idle = _instances(ec2, "t3.large", 1, "batch-idle")[0]
    jump = _instances(ec2, "c5.4xlarge", 6, "batch-new")
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=500, VolumeType="gp2")[
        "VolumeId"
    ]
    snapshot_volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=200, VolumeType="gp3")
    ec2.create_snapshot(
        VolumeId=snapshot_volume["VolumeId"], Description="orders-db-before-migration"
    )
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    for instance_id in web:
        _cpu_metrics(cloudwatch, instance_id, 35, 60, now)
    _cpu_metrics(cloudwatch, idle, 0.5, 2.0, now, network_bytes_per_hour=20_000)
    for instance_id in jump:
        _cpu_metrics(cloudwatch, instance_id, 70, 90, now)

    dev_ec2 = _session(endpoint_url, DEV).client("ec2", endpoint_url=endpoint_url)
    dev = _instances(dev_ec2, "m5.xlarge", 3, "dev-box")
    # Launched when the history starts, except the jump's instances, new three days ago.
    _launched(
        endpoint_url,
        PROD,
        {i: scenario.start for i in [*web, idle]} | {i: scenario.jump_start for i in jump},
    )
    _launched(endpoint_url, DEV, dict.fromkeys(dev, scenario.start))
    ids = ResourceIds(
        web=tuple(web), idle=idle, volume=volume, eip=eip, jump=tuple(jump), dev=tuple(dev)
    )

    s3 = prod.client("s3", endpoint_url=endpoint_url)
    s3.create_bucket(Bucket=CUR_BUCKET)
    for key, body in cur_files(scenario, ids).items():
        s3.put_object(Bucket=CUR_BUCKET, Key=key, Body=body)
    return ids
