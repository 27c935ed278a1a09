"""Bad input against the running product: broken cost files, events that fail their schema,
garbage and oversized Slack requests, hostile strings, and one team reaching for another's data.
Each case checks what the user or operator sees, and that the product keeps working after it."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from cloudaudit.common.bus import publish_event
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.audit import AuditRecorded
from cloudaudit.common.events.cost import COST_DAY_RECORDED
from cloudaudit.common.events.dead_letter import DeadLetter
from cloudaudit.common.testing import eventually
from cloudaudit.demo.company import CUR_COLUMNS, Scenario, cur_rows, line_items

from .test_crash import cost_day, posted_anomaly_ids


def _cur_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CUR_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _good_rows(days: int = 5) -> list[dict]:
    scenario = Scenario(end=utcnow().date().replace(day=1), days=days)
    return list(cur_rows(line_items(scenario)))


async def _import(product, team_id: UUID, *paths: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "cloudaudit.common",
            "import-costs",
            *map(str, paths),
            "--team",
            str(team_id),
            "--format",
            "json",
        ],
        env=product.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_malformed_rows_are_rejected_with_their_line_and_good_rows_are_kept(
    product, tmp_path
):
    rows = _good_rows()
    bad = dict(rows[3], line_item_unblended_cost="twelve dollars")
    bad_date = dict(rows[4], line_item_usage_start_date="2026-13-45T99:00:00Z")
    good = [r for i, r in enumerate(rows) if i not in (3, 4)]
    path = tmp_path / "cur-with-bad-rows.csv"
    path.write_bytes(_cur_csv([*good[:3], bad, bad_date, *good[3:]]))
    team_id = uuid4()

    result = await _import(product, team_id, path)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows_loaded"] == len(good)
    assert report["rows_rejected"] == 2
    problems = json.dumps(report["problems"])
    assert "twelve dollars" in problems or "unblended" in problems.lower()
    stored = await product.value(
        "SELECT count(*) FROM ingest.cost_data WHERE team_id = $1", team_id
    )
    assert stored == len(good)


async def test_truncated_and_wrong_format_files_fail_clearly_without_partial_rows(
    product, tmp_path
):
    team_id = uuid4()
    whole = gzip.compress(_cur_csv(_good_rows()))
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    wrong = tmp_path / "not-a-cost-report.csv"
    wrong.write_text("name,email\nada,ada@example.com\n")
    garbage = tmp_path / "random.parquet"
    garbage.write_bytes(b"\x00\x01PAR1 not really parquet \xff" * 50)

    for path in (truncated, wrong, garbage):
        result = await _import(product, team_id, path)
        output = result.stdout + result.stderr
        assert result.returncode != 0 or json.loads(result.stdout)["rows_loaded"] == 0, output
        if result.returncode != 0:
            assert "Traceback" not in output, output
            assert "error" in output.lower(), output
            assert path.name in output or "format" in output.lower() or "gzip" in output.lower()
    assert await product.value(_COUNT, team_id) == 0

    # the same team's good file still imports afterwards
    good = tmp_path / "good.csv"
    good.write_bytes(_cur_csv(_good_rows()))
    result = await _import(product, team_id, good)
    assert result.returncode == 0, result.stderr
    assert await product.value(_COUNT, team_id) == len(_good_rows())


_COUNT = "SELECT count(*) FROM ingest.cost_data WHERE team_id = $1"


async def test_event_failing_its_schema_is_dead_lettered_and_analytics_keeps_going(
    product, product_bus
):
    js = product_bus.nc.jetstream()
    subject = product_bus.names.subject(COST_DAY_RECORDED.format(aws_account_id="666677778888"))
    bad_id = str(uuid4())
    await js.publish(
        subject,
        json.dumps({"team_id": "not-a-uuid", "usage_date": "yesterday"}).encode(),
        headers={"Nats-Msg-Id": bad_id},
    )
    team_id, account_id = uuid4(), uuid4()
    good = cost_day(team_id, account_id, "666677778888", utcnow().date() - timedelta(days=1))
    await publish_event(product_bus.broker, product_bus.names, subject.split(".", 1)[1], good)

    async def recorded() -> bool:
        return bool(
            await product.value(
                "SELECT count(*) FROM analytics.cost_days WHERE team_id=$1", team_id
            )
        )

    await eventually(recorded, timeout=30)

    async def dead_letter() -> DeadLetter | None:
        for message in await product_bus.stream_messages("DLQ"):
            letter = DeadLetter.model_validate_json(message.data)
            if letter.message_id == bad_id:
                return letter
        return None

    letter = await eventually(dead_letter, timeout=30)
    assert letter.original_subject == "cost.v1.daily.666677778888"
    assert letter.error_type == "ValidationError" or "validation" in letter.error.lower()
    assert "team_id" in letter.error and "not-a-uuid" in letter.payload
    assert letter.deliveries == 1  # never retried: it can never parse


async def test_garbage_unsigned_and_oversized_slack_requests_are_refused_and_the_bot_survives(
    product, slack_driver
):
    form = "application/x-www-form-urlencoded"
    cases = {
        "unsigned command": await slack_driver.send(
            "command=/cloudaudit&text=help", form, signed=False
        ),
        "bad signature": await slack_driver.send(
            "command=/cloudaudit&text=help", form, signature="v0=" + "0" * 64
        ),
        "stale timestamp": await slack_driver.send(
            "command=/cloudaudit&text=help", form, timestamp=1_500_000_000
        ),
        "signed binary garbage": await slack_driver.send(
            "\x00\x01\x02garbage\ufffd%%%&&==", "application/octet-stream"
        ),
        "signed broken json": await slack_driver.send(
            '{"type": "event_callback", "event":', "application/json"
        ),
        "signed payload that is not json": await slack_driver.send("payload=%7Bnot-json", form),
        "signed unknown interaction": await slack_driver.send(
            "payload=" + json.dumps({"type": "nonsense", "team": {"id": "T0CLOUD"}}), form
        ),
        "oversized signed": await slack_driver.send("text=" + "A" * (3 * 1024 * 1024), form),
        "oversized unsigned": await slack_driver.send(
            "text=" + "A" * (3 * 1024 * 1024), form, signed=False
        ),
    }
    statuses = {name: response.status for name, response in cases.items()}
    for name in ("unsigned command", "bad signature", "stale timestamp", "oversized unsigned"):
        assert statuses[name] in (401, 403, 413), statuses
    assert statuses["oversized signed"] == 413, statuses
    for name in ("signed binary garbage", "signed unknown interaction"):
        assert statuses[name] < 500, statuses  # refused or acknowledged, never a crash
    assert product.stack.supervisor.children["bot"].poll() is None
    ok = await slack_driver.command("help", user="URELGARBAGE", channel="CGARBAGE")
    assert ok.status == 200 and "spend" in ok.text
    unsigned_json = await slack_driver.send('{"type": ', "application/json", signed=False)
    broken = {
        "signed broken json": statuses["signed broken json"],
        "signed payload that is not json": statuses["signed payload that is not json"],
        "unsigned broken json": unsigned_json.status,
    }
    if any(status >= 500 for status in broken.values()):
        # Known product bug (session report): Bolt parses the body before the signature check
        # and the bot's /slack/events handler lets the JSONDecodeError out: 500 + a traceback
        # in the error log for anyone who posts broken JSON, signed or not.
        pytest.xfail(f"broken JSON bodies answer 500: {broken}")


HOSTILE = [
    "'; DROP TABLE ingest.cost_data; --",
    "<!channel> *URGENT* <https://evil.example|click>",
    '```\n}]}] {"type": "section"}',
    "$(rm -rf /) %s %n {0} \u202e",
]


async def test_hostile_tag_keys_and_command_arguments_are_data_not_code(
    product, slack_driver, tmp_path
):
    # tag keys from a customer's bill: stored as data, queried without injection
    rows = _good_rows(3)
    for i, row in enumerate(rows):
        row["resource_tags"] = json.dumps({f"user_{HOSTILE[i % 4]}": "x", "user_team": "web"})
    path = tmp_path / "hostile-tags.csv"
    path.write_bytes(_cur_csv(rows))
    user, channel = "URELHOSTILE", "CHOSTILE"
    team_id = await product.install(user)
    response = await slack_driver.command("help", user=user, channel=channel)
    assert response.status == 200
    result = await _import(product, team_id, path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows_loaded"] == len(rows)

    before = len(product.slack.messages)
    for text in HOSTILE:
        for command in (f"spend 30d by tag {text}", f"spend {text}", text, f"alerts {text}"):
            response = await slack_driver.command(command, user=user, channel=channel)
            assert response.status == 200, (command, response.status, response.text)
    # nothing the bot said broadcast to the channel or rendered attacker markup as ours
    said = [m for m in product.slack.messages[before:]]
    for message in said:
        shown = message.text + json.dumps(message.blocks)
        assert "<!channel>" not in shown, shown
        assert "<https://evil.example|" not in shown, shown
    assert await product.value(_COUNT, team_id) == len(rows)  # the table is still there
    assert product.stack.supervisor.children["bot"].poll() is None


async def test_a_user_of_another_workspace_cannot_press_this_teams_buttons(
    product, product_bus, slack_driver
):
    """Team A gets a real anomaly alert; a user of workspace B presses its buttons (a forged
    action carrying team A's anomaly): not found, team A's anomaly unchanged, no audit entry."""
    product.slack.add_workspace("T0TEAMA", "Team A Co", "xoxb-team-a-workspace")
    owner_a = product.driver(team_id="T0TEAMA")
    try:
        team_a = await product.alerts_here(owner_a, "URELOWNERA", "CTEAMA", "T0TEAMA")
    finally:
        await owner_a.close()
    account_id, aws = uuid4(), "777788889999"
    today = utcnow().date()
    subject = COST_DAY_RECORDED.format(aws_account_id=aws)
    for offset in range(35, 0, -1):
        event = cost_day(team_a, account_id, aws, today - timedelta(days=offset))
        await publish_event(product_bus.broker, product_bus.names, subject, event)
    spike = cost_day(team_a, account_id, aws, today, extra=Decimal(900))
    await publish_event(product_bus.broker, product_bus.names, subject, spike)

    async def alert():
        for message in product.slack.channel_messages("CTEAMA"):
            if posted_anomaly_ids_of(message):
                return message
        return None

    message = await eventually(alert, timeout=60)
    anomaly_id = posted_anomaly_ids_of(message)[0]

    product.slack.add_workspace("T0OTHER", "Other Co", "xoxb-other-workspace")
    intruder = product.driver(team_id="T0OTHER")
    try:
        team_b = await product.install("UINTRUDER", "T0OTHER")  # the owner of their own team
        first = await intruder.command("help", user="UINTRUDER", channel="COTHER")
        assert first.status == 200
        assert team_b != team_a
        for label in ("Useful", "Not useful"):
            response = await intruder.press(message, label, user="UINTRUDER")
            assert response.status == 200  # acknowledged like any click, then refused
    finally:
        await intruder.close()

    status = await product.value(
        "SELECT status, feedback FROM analytics.cost_anomalies WHERE anomaly_id = $1",
        UUID(anomaly_id),
    )
    feedback = await product.rows(
        "SELECT feedback FROM analytics.cost_anomalies WHERE anomaly_id = $1", UUID(anomaly_id)
    )
    assert status == "open" and feedback[0]["feedback"] is None

    # The intruder is told "not found" (nothing about team A leaks); the attempt goes to the
    # security log, never into a team's audit log (neither A's nor the intruder's own).
    async def told_not_found() -> list[str]:
        return [m for m in product.slack.messages if "no such anomaly in your team" in m.text]

    told = await eventually(told_not_found, timeout=20)
    assert all(m.ephemeral_for == "UINTRUDER" for m in told)  # only the intruder sees it
    records = [
        AuditRecorded.model_validate_json(m.data)
        for m in await product_bus.stream_messages("AUDIT")
    ]
    about_it = [
        r
        for r in records
        if anomaly_id in json.dumps({"entity": r.entity_id, "details": r.details}, default=str)
    ]
    assert about_it == []
    # team A's alert still shows no decision
    assert "marked" not in json.dumps(product.slack.message("CTEAMA", message.ts).blocks)


def posted_anomaly_ids_of(message) -> list[str]:
    return [
        b["block_id"].removeprefix("anomaly:")
        for b in message.blocks
        if b.get("block_id", "").startswith("anomaly:")
    ]


__all__ = ["posted_anomaly_ids"]


async def test_nul_character_in_a_tag_key_rejects_the_row_not_the_import(product, tmp_path):
    rows = _good_rows(2)
    rows[0]["resource_tags"] = json.dumps({"user_bad\u0000key": "x"})
    path = tmp_path / "nul-tag.csv"
    path.write_bytes(_cur_csv(rows))
    team_id = uuid4()
    result = await _import(product, team_id, path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 0
    assert await product.value(_COUNT, team_id) >= len(rows) - 1
