"""Charts, the console's text rendering, and the Slack app manifest's agreement with the code."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import yaml

from cloudaudit.bot.console.render import render_blocks
from cloudaudit.bot.entrypoints.slack.app import EVENTS_PATH
from cloudaudit.bot.entrypoints.slack.commands import COMMAND
from cloudaudit.bot.settings import DEFAULT_BOT_SCOPES
from cloudaudit.bot.views.charts import spend_chart_png
from cloudaudit.bot.views.common import actions, button, context, section
from cloudaudit.common.events.cost import SpendGroup, SpendPoint

MANIFEST = Path(__file__).parents[4] / "deploy" / "slack" / "manifest.yaml"


def test_spend_chart_is_a_png_and_empty_spend_has_no_chart():
    start = date(2026, 11, 1)
    groups = [
        SpendGroup(
            key=f"S{i}",
            total=Decimal(30 * i),
            points=[
                SpendPoint(period=start + timedelta(days=d), amount=Decimal(i)) for d in range(30)
            ],
        )
        for i in range(1, 10)
    ]
    png = spend_chart_png(groups, "Spend by service")
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert spend_chart_png([], "nothing") is None


def test_block_kit_renders_as_readable_text_with_numbered_buttons():
    numbers = iter(range(1, 10))
    text = render_blocks(
        [
            section(
                ":red_circle: *High* spend in <#C1> by <@U2>, see "
                "<https://example.com/x|the console> &amp; more"
            ),
            section("```\nAmazonEC2   $1.00\n```"),
            actions("a", button("Approve", "approve", "1"), button("Snooze 7d", "snooze:7", "2")),
            context("<!date^1795599000^{date_short_pretty}|2026-11-25 09:30 UTC>"),
        ],
        lambda control: next(numbers),
    )
    assert "🔴 *High* spend in #C1 by @U2, see the console (https://example.com/x) & more" in text
    assert "AmazonEC2   $1.00" in text and "```" not in text
    assert "[1] Approve   [2] Snooze 7d" in text
    assert "· 2026-11-25 09:30 UTC" in text


def test_manifest_matches_what_the_bot_serves():
    manifest = yaml.safe_load(MANIFEST.read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND and command["url"].endswith(EVENTS_PATH)
    settings = manifest["settings"]
    assert settings["interactivity"]["request_url"].endswith(EVENTS_PATH)
    assert settings["event_subscriptions"]["request_url"].endswith(EVENTS_PATH)
    assert {"channel_left", "group_left"} <= set(settings["event_subscriptions"]["bot_events"])
    assert manifest["oauth_config"]["scopes"]["bot"] == DEFAULT_BOT_SCOPES.split(",")
    assert manifest["oauth_config"]["redirect_urls"][0].endswith("/slack/oauth_redirect")
