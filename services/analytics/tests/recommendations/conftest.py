"""Recommendation tests: AWS served by moto on loopback, an OpenAI-compatible fake, and the
services (ingest for the inventory, identity for authorisation, analytics) on real NATS and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from aiohttp import web
from cloudaudit.common.testing_aws import (
    MOTO_ACCOUNT,
    REGION,
    SeededAccount,
    moto_session,
    reset_moto,
)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    yield from moto_session()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> SeededAccount:
    """A fresh moto account that ingest reads with its own credentials (instances 40 days old
    with an 8 GiB gp3 root volume, 15 days of metrics)."""
    reset_moto(moto_url)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "INGEST_INVENTORY_AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return SeededAccount(moto_url, instance_days_old=40, root_volume_gib=8, metric_days=15)


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
        if self.mode == "other_advice":
            explanation = f"Terminate it and resize to t3.nano in eu-west-1. {explanation}"
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
    from cloudaudit.common.testing_people import SlackWorkspace, bus_ask

    async def make() -> Team:
        acme = SlackWorkspace(bus_ask(bus.broker, bus.names), "T-ACME", "Acme")
        owner = await acme.install("U-OWNER")  # the app's installer owns the team
        member = await acme.add(owner, "U-MEMBER")  # invited by the owner
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
