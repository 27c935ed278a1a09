"""Recommendation tests: AWS served by moto on loopback, an OpenAI-compatible fake, and the
services (ingest for the inventory, identity for authorisation, analytics) on real NATS and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import boto3
import pytest
import pytest_asyncio
from aiohttp import web
from moto.backends import get_backend
from moto.server import ThreadedMotoServer

MOTO_ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class SeededAccount:
    """Resources made through the AWS API (moto); history the API cannot make (a launch 40 days
    ago) is set on moto's own records, i.e. on the fake AWS, never on our code."""

    def __init__(self, url: str, region: str = REGION) -> None:
        self.url, self.account_id, self.region = url, MOTO_ACCOUNT, region
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        self.ec2 = session.client("ec2", endpoint_url=url)
        self.cloudwatch = session.client("cloudwatch", endpoint_url=url)
        self.now = datetime.now(UTC)
        self._ami = next(
            image["ImageId"]
            for image in self.ec2.describe_images(Owners=["amazon"])["Images"]
            if image.get("Platform") != "windows"
        )  # the price table is Linux

    def _backend(self) -> Any:
        return get_backend("ec2")[self.account_id][self.region]

    def instance(self, instance_type: str, days_old: int = 40) -> str:
        answer = self.ec2.run_instances(
            ImageId=self._ami,
            MinCount=1,
            MaxCount=1,
            InstanceType=instance_type,
            BlockDeviceMappings=[
                {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}
            ],
        )
        instance_id = answer["Instances"][0]["InstanceId"]
        self._backend().get_instance(instance_id).launch_time = self.now - timedelta(days=days_old)
        return instance_id

    def stop(self, instance_id: str, days_ago: int) -> None:
        self.ec2.stop_instances(InstanceIds=[instance_id])
        when = (self.now - timedelta(days=days_ago)).strftime("%Y-%m-%d %H:%M:%S")
        self._backend().get_instance(instance_id)._reason = f"User initiated ({when} GMT)"

    def volume(
        self,
        size_gib: int,
        volume_type: str = "gp2",
        attach_to: str | None = None,
        days_old: int = 30,
    ) -> str:
        volume_id = self.ec2.create_volume(
            Size=size_gib, VolumeType=volume_type, AvailabilityZone=f"{self.region}a"
        )["VolumeId"]
        self._backend().volumes[volume_id].create_time = self.now - timedelta(days=days_old)
        if attach_to:
            self.ec2.attach_volume(VolumeId=volume_id, InstanceId=attach_to, Device="/dev/sdf")
        return volume_id

    def snapshot(self, volume_id: str, days_old: int) -> str:
        snapshot_id = self.ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"]
        self._backend().snapshots[snapshot_id].start_time = self.now - timedelta(days=days_old)
        return snapshot_id

    def elastic_ip(self, associate_with: str | None = None) -> str:
        allocation_id = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        if associate_with:
            self.ec2.associate_address(AllocationId=allocation_id, InstanceId=associate_with)
        return allocation_id

    def metrics(
        self,
        instance_id: str,
        cpu_percent: list[float],
        network_bytes_per_hour: float,
        days: int = 15,
    ) -> None:
        """Hourly CPUUtilization/NetworkIn/NetworkOut up to the current hour (cpu values cycle)."""
        end = self.now.replace(minute=0, second=0, microsecond=0)
        dims = [{"Name": "InstanceId", "Value": instance_id}]
        data = []
        for hour in range(days * 24):
            ts = end - timedelta(hours=days * 24 - hour)
            data.append(
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": dims,
                    "Timestamp": ts,
                    "Value": cpu_percent[hour % len(cpu_percent)],
                    "Unit": "Percent",
                }
            )
            for name in ("NetworkIn", "NetworkOut"):
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": dims,
                        "Timestamp": ts,
                        "Value": network_bytes_per_hour / 2,
                        "Unit": "Bytes",
                    }
                )
        for start in range(0, len(data), 1000):
            self.cloudwatch.put_metric_data(
                Namespace="AWS/EC2", MetricData=data[start : start + 1000]
            )


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> SeededAccount:
    """A fresh moto account that ingest reads with its own credentials."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "INGEST_INVENTORY_AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return SeededAccount(moto_url)


# -- the OpenAI-compatible fake -----------------------------------------------------------------
@dataclass
class FakeLlm:
    """Answers /v1/chat/completions the way the test asks: good, invented, malformed, hang."""

    url: str = ""
    mode: str = "good"
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorization: list[str] = field(default_factory=list)

    @staticmethod
    def sheet_of(body: dict[str, Any]) -> dict[str, Any]:
        user = next(m for m in body["messages"] if m["role"] == "user")["content"]
        return json.loads(user)

    def answer(self, body: dict[str, Any]) -> str:
        sheet = self.sheet_of(body)
        facts = sheet["facts"]
        title = f"{sheet['recommendation']}: save {sheet['estimated_monthly_savings']} a month"
        detail = ", ".join(f"{k.lower()} {v}" for k, v in list(facts.items())[:3])
        explanation = (
            f"We found this {sheet['resource']} with {detail}. "
            f"{sheet['action']} to save {sheet['estimated_monthly_savings']} a month. "
            f"Risk: {sheet['risks'][0] if sheet['risks'] else 'none known'}."
        )
        if self.mode == "invented":
            explanation += " That is roughly $999.99 a year."
        if self.mode == "malformed":
            return '{"title": "Idle instance", "explanation": '
        if self.mode == "extra_field":
            return json.dumps({"title": title, "explanation": explanation, "score": 3})
        return json.dumps({"title": title, "explanation": explanation})

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.authorization.append(request.headers.get("Authorization", ""))
        if self.mode == "hang":
            await asyncio.Event().wait()  # never answers; the client's timeout must fire
        if self.mode == "error":
            return web.json_response(
                {"error": {"message": "upstream overloaded", "type": "server_error"}}, status=500
            )
        content = self.answer(body)
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid4().hex[:10]}",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 200, "completion_tokens": 60, "total_tokens": 260},
            }
        )


@pytest_asyncio.fixture(loop_scope="session")
async def fake_llm() -> AsyncIterator[FakeLlm]:
    fake = FakeLlm()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}/v1"
    yield fake
    await runner.cleanup()


OPENAI_KEY = "sk-test-recommendations-0123456789"


@pytest.fixture
def llm_env(fake_llm: FakeLlm, monkeypatch: pytest.MonkeyPatch) -> FakeLlm:
    fake_llm.mode = "good"
    fake_llm.requests.clear()
    fake_llm.authorization.clear()
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.url)
    monkeypatch.setenv("OPENAI_MODEL", "fake-writer-1")
    monkeypatch.setenv("OPENAI_TIMEOUT_S", "1")
    monkeypatch.setenv("OPENAI_MAX_RETRIES", "0")
    return fake_llm


# -- a team with an AWS account ------------------------------------------------------------------
@dataclass(frozen=True)
class Team:
    team_id: UUID
    account_id: UUID
    owner: UUID
    member: UUID


@pytest.fixture
def static_account(monkeypatch: pytest.MonkeyPatch):
    """Tell ingest which account the team has (ingest's static account list)."""

    def configure(team_id: UUID, account_id: UUID, aws_account_id: str = MOTO_ACCOUNT) -> None:
        monkeypatch.setenv(
            "INGEST_INVENTORY_ACCOUNTS",
            json.dumps(
                [
                    {
                        "team_id": str(team_id),
                        "account_id": str(account_id),
                        "aws_account_id": aws_account_id,
                        "regions": [REGION],
                    }
                ]
            ),
        )

    return configure


NUMBER = re.compile(r"(?<![A-Za-z0-9_.\-])\$?\d[\d,]*(?:\.\d+)?%?")


@pytest.fixture
def team_with_account(bus, static_account):
    """A Slack workspace's team (owner + member, enrolled by identity) with one AWS account."""
    from cloudaudit.common.bus import rpc
    from cloudaudit.common.events.identity import RPC_SLACK_USER, SlackUserReply, SlackUserRequest

    async def make() -> Team:
        async def enrol(user: str) -> SlackUserReply:
            reply = await rpc(
                bus.broker,
                bus.names,
                RPC_SLACK_USER,
                SlackUserRequest(
                    slack_team_id="T-ACME", slack_user_id=user, slack_team_name="Acme"
                ),
                SlackUserReply,
            )
            assert reply.ok, reply.error
            return reply

        owner = await enrol("U-OWNER")
        member = await enrol("U-MEMBER")
        assert owner.team_id is not None and owner.user_id and member.user_id
        team = Team(owner.team_id, uuid4(), owner.user_id, member.user_id)
        static_account(team.team_id, team.account_id)
        return team

    return make


@pytest.fixture
def start(start_service):
    """start_service, then a round trip to NATS so its subscriptions are live before requests."""

    async def go(name: str):
        runtime = await start_service(name)
        await runtime.broker.config.connection_state.connection.flush()
        return runtime

    return go
