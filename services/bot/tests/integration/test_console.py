"""`cloudaudit slack-console`: the same bot driven from a terminal, Block Kit shown as text."""

from __future__ import annotations

import re
from uuid import uuid4

from bot_support import recommendation_created

from cloudaudit.bot.console.session import ConsoleSession
from cloudaudit.common.bus import publish_event
from cloudaudit.common.events import account, recommendation
from cloudaudit.common.events.identity import Action
from cloudaudit.common.testing import eventually


async def test_console_runs_commands_shows_charts_alerts_and_presses_buttons(
    start_service, settings, endpoints, bus, ingest, analytics, tmp_path
):
    await start_service("identity")
    answers = {"reason": "kept for the quarterly audit"}

    async def ask(block_id: str, label: str) -> str | None:
        return answers.get(block_id)

    console = ConsoleSession(settings, endpoints, tmp_path / "charts", ask)
    await console.start()
    try:
        help_text = await console.run_line("/cloudaudit help")
        assert "CLOUDAUDIT: AWS COSTS IN SLACK" in help_text
        assert "/cloudaudit spend [period]" in help_text

        spend = await console.run_line("/cloudaudit spend 7d by service")
        assert "chart saved to" in spend and str(tmp_path / "charts") in spend
        assert "AmazonEC2" in spend and "Total" in spend and "```" not in spend
        (chart,) = (tmp_path / "charts").glob("*.png")
        assert chart.read_bytes().startswith(b"\x89PNG")

        here = await console.run_line("/cloudaudit alerts here")
        assert "now go to #CCONSOLE" in here

        async with console.service.deps.uow() as uow:
            team = await uow.repo.team_by_slack("T0CLOUD")
        event = recommendation_created(team.team_id)
        await publish_event(bus.broker, bus.names, "recommendation.v1.created.123456789012", event)
        seen: list[str] = []

        async def alert_shown() -> bool:
            seen.append(await console.poll())
            return "SAVE $140.16/MONTH" in "".join(seen)

        await eventually(alert_shown)
        alert = "".join(seen)
        number = re.search(r"\[(\d+)\] Dismiss", alert).group(1)
        dismissed = await console.run_line(number)
        assert "▣ Dismiss recommendation" in dismissed and "(submitted)" in dismissed
        assert "Dismissed by @UCONSOLE" in dismissed and "kept for the quarterly audit" in dismissed
        decided = analytics.requests[recommendation.RPC_DECIDE][-1]
        assert decided.reason == "kept for the quarterly audit"

        assert "no button [999]" in await console.run_line("999")
        assert "Only /cloudaudit" in await console.run_line("/giphy cats")
    finally:
        await console.stop()


async def test_the_connect_form_shows_the_external_id_before_it_asks_for_the_role(
    start_service, settings, endpoints, ingest, analytics, tmp_path
):
    """A person at a terminal needs the ExternalId and the CloudFormation link to create the
    role whose ARN the form asks for: the form is shown first, then the questions."""
    await start_service("identity")
    shown: list[str] = []
    seen_when_asked: dict[str, str] = {}

    async def ask(block_id: str, label: str) -> str | None:
        seen_when_asked.setdefault(block_id, "\n".join(shown))
        return None

    console = ConsoleSession(settings, endpoints, tmp_path / "files", ask, show=shown.append)
    await console.start()
    try:
        await console.run_line("/cloudaudit connect")
    finally:
        await console.stop()
    before_the_arn = seen_when_asked["role_arn"]
    assert "ca-ext-7f3a9c" in before_the_arn and "CloudFormation" in before_the_arn


async def test_connect_with_an_arn_opens_the_form_with_it_filled_in(
    start_service, settings, endpoints, ingest, analytics, tmp_path
):
    await start_service("identity")
    arn = "arn:aws:iam::123456789012:role/CloudAuditReadOnly"
    await ingest.answer(
        account.RPC_CONNECT,
        account.ConnectAccountRequest,
        account.ConnectAccountReply(account_id=uuid4(), aws_account_id="123456789012"),
        Action.CONNECT_ACCOUNT,
    )
    prompts: dict[str, str] = {}

    async def ask(block_id: str, label: str) -> str | None:
        prompts[block_id] = label
        return None  # Enter: keep what the form holds

    console = ConsoleSession(settings, endpoints, tmp_path / "files", ask)
    await console.start()
    try:
        shown = await console.run_line(f"/cloudaudit connect {arn}")
    finally:
        await console.stop()
    assert arn in prompts["role_arn"] and "(submitted)" in shown, shown
    (connected,) = ingest.requests[account.RPC_CONNECT]
    assert connected.role_arn == arn
