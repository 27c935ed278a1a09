"""The web app in a real browser (Debian's chromium through Playwright) over the real services.

Identity, ingest, analytics and the web app run in-process on the session's real NATS and
PostgreSQL; mail goes over real SMTP into identity's sink and is read from there. Cost rows,
an anomaly and a recommendation are written into the owning services' tables as their own
pipelines would leave them. Screenshots of every page land in the test's tmp_path.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from cloudaudit.common.bus import BusNames, rpc
from cloudaudit.common.clock import frozen_at, utcnow
from cloudaudit.common.events import cost
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.testing import Mailbox

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TODAY = date(2027, 3, 15)  # a fixed day: the dashboard's month-to-date never follows the wall clock
PASSWORD = "c0rrect-horse-battery"
HOSTILE_SERVICE = "<img src=x onerror=\"document.title='pwned'\">Amazon<b>S3</b>"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="chromium is not installed (apt-get install -y chromium)",
    ),
]


@pytest_asyncio.fixture(loop_scope="session")
async def stack(start_service, settings, tmp_path) -> AsyncIterator[dict[str, Any]]:
    from cloudaudit.identity.settings import IdentitySettings
    from cloudaudit.ingest.settings import IngestSettings
    from cloudaudit.web.settings import WebSettings

    common = {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "NATS_URL": settings.nats_url_value(),
        "CLOUDAUDIT_BUS_PREFIX": settings.bus_prefix,
        "CLOUDAUDIT_STATE_DIR": str(tmp_path / "state"),
    }
    identity = await start_service("identity", IdentitySettings(**common))  # type: ignore[arg-type]
    await start_service("ingest", IngestSettings(**common, INGEST_SCHEDULER=False))  # type: ignore[arg-type]
    await start_service("analytics")
    web = await start_service(
        "web",
        WebSettings(**common, WEB_IDENTITY_URL=f"http://127.0.0.1:{identity.bound_api_port}"),  # type: ignore[arg-type]
    )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield {
            "browser": browser,
            "base": f"http://127.0.0.1:{web.bound_api_port}",
            "identity": f"http://127.0.0.1:{identity.bound_api_port}",
            "mailbox": Mailbox(tmp_path / "state"),
            "shots": tmp_path / "screenshots",
        }
        await browser.close()


async def _page(stack: dict[str, Any]) -> Page:
    browser: Browser = stack["browser"]
    context = await browser.new_context(base_url=stack["base"])
    page = await context.new_page()
    page.on("dialog", lambda d: pytest.fail(f"a page ran a script from data: {d.message}"))
    return page


async def _shot(page: Page, stack: dict[str, Any], name: str) -> None:
    await page.screenshot(path=str(stack["shots"] / f"{name}.png"), full_page=True)


async def _sign_up_and_log_in(page: Page, stack: dict[str, Any], email: str) -> None:
    await page.goto("/signup")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Check your email")
    mail = await stack["mailbox"].wait_for(email)
    await page.goto(f"/verify?token={Mailbox.token_in(mail)}")
    await page.click("main button[type=submit]")
    await expect(page.locator(".notice")).to_contain_text("verified")
    before = {c["name"]: c["value"] for c in await page.context.cookies()}
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    await page.wait_for_url("**/dashboard")
    after = {c["name"]: c for c in await page.context.cookies()}
    # a new session id at log-in: nothing that existed before it (a planted cookie) is the session
    assert "ca_session" not in before and after["ca_session"]["value"] not in before.values()
    assert after["ca_session"]["httpOnly"] and after["ca_session"]["sameSite"] == "Lax"


async def _seed(database_url: str, team_id: uuid.UUID) -> dict[str, Any]:
    """Two months of cost rows for one account, one anomaly, one open recommendation."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    account_id, anomaly_id, rec_id, now = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), utcnow()
    try:
        await conn.execute(
            "INSERT INTO ingest.aws_accounts (account_id, team_id, aws_account_id, account_name, "
            "role_arn, status, created_at, updated_at) VALUES ($1, $2, '111122223333', 'prod', "
            "'arn:aws:iam::111122223333:role/CloudAuditReadOnly', 'connected', $3, $3)",
            account_id, team_id, now,
        )  # fmt: skip
        months: dict[tuple[date, str], Decimal] = {}
        days = [date(2027, 2, d) for d in range(14, 29)] + [date(2027, 3, d) for d in range(1, 16)]
        rows = []
        for day in days:
            for service, amount in (
                ("AmazonEC2", Decimal("12.37")),
                (HOSTILE_SERVICE, Decimal("0.33")),
            ):
                rows.append((uuid.uuid4(), account_id, team_id, day, service, amount, now))
                key = (day.replace(day=1), service)
                months[key] = months.get(key, Decimal(0)) + amount
        # the summaries ingest derives from its cost rows (what the spend query reads)
        await conn.executemany(
            "INSERT INTO ingest.daily_cost_summaries (summary_id, account_id, team_id, "
            "aws_account_id, usage_date, service, region, unblended_cost, top_usage_types, "
            "top_resources, source, updated_at) VALUES ($1, $2, $3, '111122223333', $4, $5, "
            "'us-east-1', $6, '[]', '[]', 'cur', $7)",
            rows,
        )
        await conn.executemany(
            "INSERT INTO ingest.monthly_cost_summaries (account_id, month, service, region, "
            "team_id, aws_account_id, unblended_cost) VALUES ($1, $2, $3, 'us-east-1', $4, "
            "'111122223333', $5)",
            [(account_id, m, svc, team_id, total) for (m, svc), total in months.items()],
        )
        await conn.execute(
            "INSERT INTO analytics.cost_anomalies (anomaly_id, team_id, account_id, aws_account_id, "
            "series_key, service, usage_date, detected_at, kind, severity, status, expected_cost, "
            "actual_cost, impact, deviation_pct, root_cause, episode_start, model_version, alerted, "
            "updated_at) VALUES ($1, $2, $3, '111122223333', 'k', 'AmazonEC2', $4, $5, 'spike', "
            "'high', 'open', 300, 1100, 800, 266, '[]', $4, 1, 1, $5)",
            anomaly_id, team_id, account_id, date(2027, 3, 10), now,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO analytics.recommendations (recommendation_id, team_id, account_id, "
            "aws_account_id, resource_id, resource_type, region, type, title, description, action, "
            "estimated_monthly_savings, confidence_score, status, baseline_monthly_cost, fact_sheet, "
            "details, text_hash, text_source, created_at, updated_at, last_seen_at) VALUES ($1, $2, "
            "$3, '111122223333', 'i-0idle', 'ec2_instance', 'us-east-1', 'idle_ec2', 'Stop idle', "
            "'idle', 'stop it', 70.08, 0.9, 0, 70.08, '{}', '{}', 'h', 'template', $4, $4, $4)",
            rec_id, team_id, account_id, now,
        )  # fmt: skip
    finally:
        await conn.close()
    return {"anomaly_id": anomaly_id, "recommendation_id": rec_id}


async def _identity(
    stack: dict[str, Any], path: str, body: dict[str, Any], token: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stack['identity']}/api/v1/{path}", json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def _spend_as_cli_reads_it(settings, actor_token, team_id, user_id, start, end) -> Decimal:
    """What `cloudaudit spend` prints: ingest's spend answer for the team over the bus."""
    from cloudaudit.common.bus import make_broker

    names = BusNames(settings.bus_prefix)
    broker = make_broker(settings.nats_url_value(), names, "test", settings.max_deliveries)
    await broker.connect()
    try:
        token = actor_token(
            team_id=team_id, user_id=user_id, role=Role.VIEWER, audience=Audience.INGEST
        )
        reply = await rpc(
            broker, names, cost.RPC_SPEND,
            cost.SpendRequest(actor_token=token, start=start, end=end, granularity=cost.Granularity.NONE),
            cost.SpendReply,
        )  # fmt: skip
    finally:
        await broker.stop()
    assert reply.ok, reply.error
    return reply.total


async def test_owner_and_viewer_walk_from_sign_up_to_the_audit_log(stack, settings, actor_token):
    stack["shots"].mkdir()
    with frozen_at(TODAY):
        owner = await _page(stack)
        await _sign_up_and_log_in(owner, stack, "owner@example.test")
        await expect(owner.locator("h1")).to_have_text("Create your team")
        await _shot(owner, stack, "01-no-team")
        await owner.fill("#name", "Acme")
        await owner.click("main button[type=submit]")
        await owner.wait_for_url("**/dashboard")
        await expect(owner.locator(".empty")).to_contain_text("No spend yet")
        status, teams = await _identity_get(stack, owner, "me/teams")
        team_id = uuid.UUID(teams["teams"][0]["team_id"])
        seeded = await _seed(settings.database_url.get_secret_value(), team_id)

        await owner.goto("/dashboard")
        await expect(owner.locator("#spend-chart canvas")).to_have_count(1)
        await _shot(owner, stack, "02-dashboard")
        me = await _identity_get(stack, owner, "me")
        user_id = uuid.UUID(me[1]["user_id"])
        mtd = await _spend_as_cli_reads_it(
            settings, actor_token, team_id, user_id, date(2027, 3, 1), date(2027, 3, 16)
        )
        last = await _spend_as_cli_reads_it(
            settings, actor_token, team_id, user_id, date(2027, 2, 1), date(2027, 3, 1)
        )
        assert mtd == Decimal("190.50") and last == Decimal("190.50")  # 15 days x (12.37 + 0.33)
        await expect(owner.locator("#month-to-date")).to_have_text(f"${mtd:,.2f}")
        await expect(owner.locator("#last-month")).to_have_text(f"${last:,.2f}")
        # a hostile service name from the bill is text: no element, no script
        await expect(owner.locator("#spend-table")).to_contain_text(HOSTILE_SERVICE)
        assert await owner.locator("#spend-table img").count() == 0
        assert await owner.title() != "pwned"
        csv = await owner.request.get("/dashboard.csv")
        assert "AmazonEC2" in await csv.text()

        await owner.click("nav >> text=Anomalies")
        await owner.click(f"a[href='/anomalies/{seeded['anomaly_id']}']")
        await expect(owner.locator("#impact")).to_contain_text("$800.00")
        await _shot(owner, stack, "03-anomaly")
        # another team's anomaly (any id not of this team) is 404
        other = await owner.request.get(f"/anomalies/{uuid.uuid4()}")
        assert other.status == 404

        # CSRF: a form without the page's token is refused
        forged = await owner.request.post(
            f"/recommendations/{seeded['recommendation_id']}/decide",
            form={"decision": "approve", "csrf_token": "0" * 64},
        )
        assert forged.status == 403

        # a viewer, invited by the owner, is refused; the owner approves
        session = next(
            c["value"] for c in await owner.context.cookies() if c["name"] == "ca_session"
        )
        status, invite = await _identity(
            stack,
            f"teams/{team_id}/invitations",
            {"email": "viewer@example.test", "role": "viewer"},
            session,
        )
        assert status == 201, invite
        viewer = await _page(stack)
        await _sign_up_and_log_in(viewer, stack, "viewer@example.test")
        viewer_session = next(
            c["value"] for c in await viewer.context.cookies() if c["name"] == "ca_session"
        )
        status, _ = await _identity(
            stack, f"invitations/{invite['invitation_id']}/accept", {}, viewer_session
        )
        assert status == 200
        await viewer.goto("/recommendations")
        await viewer.click("button[value=approve]")
        await expect(viewer.locator(".error")).to_be_visible()
        await _shot(viewer, stack, "04-viewer-refused")
        assert (await viewer.request.get("/audit")).status == 404  # owners and admins only

        await owner.click("nav >> text=Recommendations")
        await owner.click("button[value=approve]")
        await expect(owner.locator(".notice")).to_have_text("approved")
        await _shot(owner, stack, "05-approved")

        for _ in range(50):  # the audit event reaches identity's log through JetStream
            await owner.goto("/audit")
            text = await owner.locator("main").inner_text()
            if "refused" in text and "approve" in text:
                break
            await owner.wait_for_timeout(100)
        await _shot(owner, stack, "06-audit")
        assert "refused" in text and "approve" in text, text

        await owner.click("nav >> text=Log out")
        await owner.wait_for_url("**/login")
        assert (await owner.request.get("/dashboard", max_redirects=0)).status == 303
    assert len(list(stack["shots"].glob("*.png"))) == 6


async def _identity_get(stack: dict[str, Any], page: Page, path: str) -> Any:
    session = next(c["value"] for c in await page.context.cookies() if c["name"] == "ca_session")
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{stack['identity']}/api/v1/{path}", headers={"Authorization": f"Bearer {session}"}
        ) as resp,
    ):
        return resp.status, await resp.json()
