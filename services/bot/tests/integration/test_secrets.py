"""Slack credentials and link codes never reach a log line, even with every library logging at DEBUG."""

from __future__ import annotations

import io
import logging
import re

from bot_support import OWNER, SIGNING_SECRET, reply_to, visible

from cloudaudit.bot.localslack import DEFAULT_TOKEN
from cloudaudit.common.logging import JsonFormatter, _secrets


async def test_signing_secret_and_bot_token_are_never_logged(bot, ingest):
    assert {SIGNING_SECRET, DEFAULT_TOKEN} <= _secrets  # registered when the bot loaded them
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    noisy = [logging.getLogger(n) for n in ("slack_bolt", "slack_sdk", "cloudaudit", "aiohttp")]
    levels = [logger.level for logger in noisy]
    root.addHandler(handler)
    for logger in noisy:
        logger.setLevel(logging.DEBUG)
    await bot.people.install(OWNER)
    try:
        await bot.driver.command("accounts", user=OWNER)
        await reply_to(bot.slack, OWNER, "production")
        await bot.driver.command("link", user=OWNER)
        shown = await reply_to(bot.slack, OWNER, "one-time link code")
        code = re.search(r"\*([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\*", visible(shown)).group(1)
        await bot.driver.command("accounts", signature="v0=" + "1" * 64)  # refused, logged
    finally:
        root.removeHandler(handler)
        for logger, level in zip(noisy, levels, strict=True):
            logger.setLevel(level)
    logged = stream.getvalue()
    assert "slack" in logged.lower()  # the libraries did talk
    assert SIGNING_SECRET not in logged and DEFAULT_TOKEN not in logged
    assert code in _secrets and code not in logged  # a link code is a secret too
