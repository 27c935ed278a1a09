"""The demo: the product started with a simulated AWS company, then the Slack console or a
scripted tour that checks each step produced what it should (exit code 0 only if all did)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any
from uuid import UUID

import typer
from cloudaudit.common.actors import PUBLIC_FILE, key_dir
from cloudaudit.common.cli_support import cli_settings
from cloudaudit.common.embedded import EmbeddedServerError
from cloudaudit.common.events.account import RPC_ACCOUNTS, AccountsReply, AccountsRequest
from cloudaudit.common.events.identity import (
    RPC_SLACK_USER,
    Audience,
    Role,
    SlackUserReply,
    SlackUserRequest,
)
from cloudaudit.common.events.recommendation import RPC_REFRESH, RefreshReply, RefreshRequest
from cloudaudit.common.infra import resolve_endpoints, stop_embedded
from cloudaudit.common.money import format_usd
from cloudaudit.common.settings import CommonSettings
from cloudaudit.demo.company import (
    CUR_BUCKET,
    CUR_PREFIX,
    DEV,
    EC2_SERVICE,
    PROD,
    SUPPORT_SERVICE,
)
from cloudaudit.demo.stack import ProductStack, exported_ports
from cloudaudit.demo.tour_decisions import (
    DEMO_OWNER,
    add_people,
    approved_last_time,
    audit_log,
    expected_feedback,
    owner_token,
    viewer_refused_then_admin_approves,
)
from cloudaudit.demo.tour_session import Step, Tour, button_number
from cloudaudit.demo.tour_web import web_sign_up

DEMO_USER = DEMO_OWNER
DEMO_CHANNEL = "CDEMOALERTS"
ALERT_TIMEOUT_S = 120
RERUN_ALERT_WAIT_S = 20
# The company's role with a capital I for the l: a role its AWS account does not have.
MISTYPED_ROLE_ARN = PROD.role_arn.replace("ReadOnly", "ReadOnIy")
SERVICES_AS_PROCESSES = ("identity", "ingest", "analytics")  # the bot runs inside the console


async def _connect(tour: Tour, role_arn: str, name: str) -> None:
    tour.answers = {"role_arn": role_arn, "name": name}
    output = await tour.line("/cloudaudit connect")

    async def connected() -> str | None:
        text = output + await tour.poll()
        done = ("connected" in text.lower() and name in text) or "failed" in text.lower()
        return text if done else None

    result = await tour.wait_for(connected, 60) or output
    ok = "failed" not in result.lower() and name in result
    tour.record(f"connect {name}", ok, f"role {role_arn}", result)


async def _connect_refused(tour: Tour) -> None:
    """A role ARN with a typo: AWS refuses AssumeRole, and so does the company's stand-in."""
    tour.answers = {"role_arn": MISTYPED_ROLE_ARN, "name": "acme-typo"}
    output = await tour.line("/cloudaudit connect")

    async def answered() -> str | None:
        nonlocal output
        output += "\n" + await tour.poll()
        return output if "failed" in output.lower() else None

    result = await tour.wait_for(answered, 60) or output
    # The error is AWS's (AccessDenied on AssumeRole), with what to check to fix it.
    ok = all(
        part in result
        for part in (
            "Connecting failed",
            "AccessDenied",
            MISTYPED_ROLE_ARN,
            "with exactly this name",
        )
    )
    tour.record(
        "a mistyped role ARN is refused",
        ok,
        "AssumeRole denied, as AWS denies a role that does not exist; the reply says what to check",
        result,
    )


async def _disconnect(tour: Tour) -> None:
    """The dev account leaves (its data kept); the next tour's connect step brings it back."""
    output = await tour.line(f"/cloudaudit disconnect {DEV.aws_account_id}")
    tour.record(
        "disconnect",
        "Disconnected" in output and "stay readable" in output,
        f"`/cloudaudit disconnect {DEV.aws_account_id}`: no more syncs, its data kept",
        output,
    )


async def _team(tour: Tour) -> UUID:
    reply = await tour.stack.request(
        RPC_SLACK_USER,
        SlackUserRequest.full_member(tour.session.driver.team_id, DEMO_USER),
        SlackUserReply,
    )
    assert reply.team_id is not None
    return reply.team_id


async def _owner(tour: Tour) -> None:
    """The person who set up the workspace (the console's user, as an OAuth installer is) owns
    its team; someone who merely types first does not."""
    reply = await tour.stack.request(
        RPC_SLACK_USER,
        SlackUserRequest.full_member(tour.session.driver.team_id, DEMO_USER),
        SlackUserReply,
    )
    ok = reply.ok and reply.role is Role.OWNER
    tour.record(
        "the installer owns the team",
        ok,
        f"@{DEMO_USER} set up the workspace and is its owner; others join when invited",
    )


def _import(tour: Tour, team_id: UUID, account_id: UUID) -> None:
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own CLI
        [
            sys.executable,
            "-m",
            "cloudaudit.common",
            "import-costs",
            f"s3://{CUR_BUCKET}/{CUR_PREFIX}",
            "--team",
            str(team_id),
            "--account",
            str(account_id),
            "--format",
            "json",
        ],
        env=tour.stack.service_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    logs = tour.stack.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "import-costs.log").open("a", encoding="utf-8") as log_file:
        log_file.write(result.stderr)
    if result.returncode != 0:
        tour.record("import 90 days of CUR 2.0 history", False, result.stderr.strip()[-500:])
        return
    report = json.loads(result.stdout)
    # Run again, the company is the same (same resource ids, same CUR files): the import
    # replaces its billing periods and no day changes, so none is published again.
    published = report["days_published"] > 0 or tour.rerun
    ok = report["rows_loaded"] > 0 and report["rows_rejected"] == 0 and published
    days = (
        f"{report['days_published']} account-days published"
        if report["days_published"] or not tour.rerun
        else "no day changed since the last run (nothing published again)"
    )
    tour.record(
        "import 90 days of CUR 2.0 history",
        ok,
        f"{report['rows_loaded']:,} rows, {days}, "
        f"{report['rows_rejected']} rejected, {time.monotonic() - started:.1f} s",
    )


async def _spend(tour: Tour) -> None:
    output = await tour.line("/cloudaudit spend 30d by service")
    ok = "chart saved" in output and EC2_SERVICE in output
    tour.record("spend by service, with a chart", ok, "`/cloudaudit spend 30d by service`", output)


def _alerts(text: str) -> list[str]:
    """The anomaly alerts shown in the channel, one string each."""
    return [part for part in text.split("COST ANOMALY:")[1:]]


async def _anomaly(tour: Tour) -> None:
    async def alerted() -> str | None:
        await tour.poll()
        found = [a for a in _alerts(tour.seen()) if EC2_SERVICE.upper() in a.split("\n")[0]]
        return found[0] if found else None

    alert = await tour.wait_for(alerted, ALERT_TIMEOUT_S if not tour.rerun else RERUN_ALERT_WAIT_S)
    support = [a for a in _alerts(tour.seen()) if SUPPORT_SERVICE.upper() in a.split("\n")[0]]
    if alert is None and tour.rerun:
        # Started again on the same state: the episode was alerted last time and is not
        # alerted twice; it is listed among the anomalies instead (marked expected last time).
        listing = await tour.line("/cloudaudit anomalies all")
        ok = EC2_SERVICE in listing and SUPPORT_SERVICE not in listing
        tour.record(
            "anomaly alert in the channel",
            ok,
            "already alerted on the previous run; listed, not alerted twice",
            listing,
        )
        return
    ok = bool(alert) and "c5.4xlarge" in (alert or "") and not support
    detail = (
        "EC2 jump alerted with root cause c5.4xlarge; the month-start Support fee did not alert"
    )
    tour.record("anomaly alert in the channel", ok, detail, "COST ANOMALY:" + (alert or " none"))


async def _recommendations(tour: Tour, team_id: UUID) -> None:
    reply = await tour.stack.request(
        RPC_REFRESH,
        RefreshRequest(actor_token=await owner_token(tour, Audience.ANALYTICS)),
        RefreshReply,
        120,
    )
    # Run again, the recommendation approved last time is no longer open: list them all.
    listing = await tour.line("/cloudaudit recs all" if tour.rerun else "/cloudaudit recs")
    # One of each kind the company has: idle instance, unattached volume, Elastic IP and the
    # commitment its steady web servers (running the whole history) deserve.
    kinds = ("Stop the instance", "delete it", "Release the Elastic IP", "Compute Savings Plan")
    ok = reply.ok and reply.created + reply.refreshed > 0 and all(k in listing for k in kinds)
    # The service evaluates the accounts itself when their first cost sync finishes, so on a
    # fresh state this refresh usually finds them all already there: say so, rather than a
    # bare "0 created" that reads as if nothing was found.
    if reply.created == 0 and reply.refreshed:
        found = "the same as the last run" if tour.rerun else "found when the cost sync finished"
        why = f" ({found})"
    else:
        why = ""
    tour.record(
        "savings recommendations",
        ok,
        f"{reply.open_total} open worth {format_usd(reply.open_monthly_savings)} a month; "
        f"this refresh: {reply.created} new, {reply.refreshed} re-checked{why}",
        listing,
    )

    if tour.rerun and reply.created == 0:
        # Nothing new is posted, so there is no button to press: the decision of the last run
        # must still stand (the same company, the same recommendation, still approved).
        await approved_last_time(tour, team_id)
        return

    async def posted() -> str | None:
        await tour.poll()
        return tour.seen() if button_number(tour.seen(), "Approve") else None

    text = await tour.wait_for(posted, 60) or tour.seen()
    number = button_number(text, "Approve")
    if number is None:
        tour.record("approve a recommendation", False, "no Approve button was shown")
        return
    await viewer_refused_then_admin_approves(tour, team_id, number)


async def run_tour(stack: ProductStack, session: Any, rerun: bool = False) -> list[Step]:
    tour = Tour(stack, session, rerun=rerun)
    session.ask = tour.ask
    output = await tour.line("/cloudaudit help")
    tour.record("help", "connect" in output and "spend" in output, "`/cloudaudit help`", output)
    await _owner(tour)
    output = await tour.line("/cloudaudit alerts here")
    tour.record("alerts here", "alert" in output.lower(), f"alerts go to #{DEMO_CHANNEL}", output)
    await _connect_refused(tour)
    await _connect(tour, PROD.role_arn, PROD.name)
    await _connect(tour, DEV.role_arn, DEV.name)
    team_id = await _team(tour)
    accounts = await stack.request(
        RPC_ACCOUNTS,
        AccountsRequest(actor_token=await owner_token(tour, Audience.INGEST)),
        AccountsReply,
    )
    prod = next((a for a in accounts.accounts if a.aws_account_id == PROD.aws_account_id), None)
    if prod is None:
        tour.record("import", False, "the prod account is not connected")
        return tour.steps
    _import(tour, team_id, prod.account_id)
    await _spend(tour)
    await _anomaly(tour)
    await expected_feedback(tour, team_id)
    await add_people(tour)
    await _recommendations(tour, team_id)
    await audit_log(tour)
    await web_sign_up(tour)
    await _disconnect(tour)
    return tour.steps


async def _demo(settings: CommonSettings, interactive: bool) -> bool:
    from cloudaudit.bot.console.session import ConsoleSession

    endpoints, started = resolve_endpoints(settings)
    marker = settings.state_dir / "demo" / "toured"
    rerun = marker.exists()
    stack = ProductStack(
        endpoints=endpoints,
        state_dir=settings.state_dir / "demo",
        services=SERVICES_AS_PROCESSES,
        ports=exported_ports(settings),  # exported *_HTTP_PORT values are honoured
        enforce_aws_iam=True,  # a role the simulated company does not have is refused
    )
    try:
        await asyncio.to_thread(stack.start, lambda step: typer.secho(f"· {step}", fg="cyan"))
        for what, url in stack.urls():
            typer.echo(f"  {what:<32} {url}")
        console_settings = CommonSettings(  # type: ignore[call-arg]
            DATABASE_URL=endpoints.database_url_for("bot"),
            NATS_URL=endpoints.nats_url_for("bot"),
            CLOUDAUDIT_STATE_DIR=str(settings.state_dir),
            # the console's bot verifies the tokens of the stack's identity, whose keys live in
            # the stack's state directory (unless the environment names them, as production)
            CLOUDAUDIT_ACTOR_PUBLIC_KEYS=settings.actor_public_keys
            or (key_dir(stack.state_dir) / PUBLIC_FILE).read_text(encoding="utf-8"),
        )
        session = ConsoleSession(
            console_settings,
            endpoints,
            settings.state_dir / "demo" / "slack",
            _no_answer,
            user=DEMO_USER,
            channel=DEMO_CHANNEL,
        )
        await session.start()
        try:
            steps = await run_tour(stack, session, rerun=rerun)
            passed = all(step.ok for step in steps)
            if passed:
                marker.touch()
            typer.secho(
                f"\n{sum(s.ok for s in steps)}/{len(steps)} steps produced what they should",
                fg="green" if passed else "red",
                bold=True,
            )
            if interactive:
                await _interactive(session)
            return passed
        finally:
            await session.stop()
    finally:
        await asyncio.to_thread(stack.stop)
        stop_embedded(settings, started)


async def _no_answer(block_id: str, label: str) -> str | None:
    return None


async def _interactive(session: Any) -> None:
    async def ask(block_id: str, label: str) -> str | None:
        answer = await asyncio.get_running_loop().run_in_executor(
            None, lambda: input(f"  {label}: ")
        )
        return answer.strip() or None

    session.ask = ask
    session.show = typer.echo  # a form is read before its questions are asked
    typer.echo("\nYour turn: type /cloudaudit commands, press buttons by number, quit to leave.")
    while True:
        try:
            line = await asyncio.get_running_loop().run_in_executor(None, lambda: input("> "))
        except EOFError:
            return
        if line.strip() in ("quit", "exit"):
            return
        output = await session.run_line(line)
        if output:
            typer.echo(output)


def run_demo(interactive: bool) -> None:
    settings = cli_settings()
    interactive = interactive and sys.stdin.isatty()
    try:
        passed = asyncio.run(_demo(settings, interactive))
    except EmbeddedServerError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("stopped")
        return
    if not passed:
        raise typer.Exit(1)
