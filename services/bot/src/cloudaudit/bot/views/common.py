"""Block Kit building blocks shared by every view: sections, fields, buttons, notices."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudaudit.common.money import format_usd

Block = dict[str, Any]

# Slack limits (Block Kit reference): section text 3,000 chars, 10 fields, button text 75,
# action value 2,000, 50 blocks per message.
SECTION_TEXT_MAX = 3000
FIELDS_MAX = 10
BUTTON_TEXT_MAX = 75
BLOCKS_MAX = 50

SEVERITY_ICON = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}


# Characters that reorder or hide text (bidi overrides and isolates, zero-width marks): a
# resource name could show one thing and be another.
_HIDDEN = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
        "\u2066\u2067\u2068\u2069\ufeff\u2060",
    ),
    None,
)
_NO_FENCE = "\u02cb"  # a backtick from data would open or close a code span or fence


def escape(text: str) -> str:
    """The one way data (from a bill, AWS, a person or an LLM) enters Slack mrkdwn: `&`, `<`
    and `>` escaped as Slack asks, so `<!channel>`, `<@U…>` and `<https://x|y>` stay text;
    backticks replaced so a value cannot close a code fence; hidden characters removed."""
    return (
        str(text)
        .translate(_HIDDEN)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("`", _NO_FENCE)
    )


_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,20}$")


def mention(slack_user_id: str) -> str:
    """A live `<@U…>` mention only for what is shaped like a Slack user id; anything else is
    shown as text."""
    return f"<@{slack_user_id}>" if _SLACK_USER_ID.match(slack_user_id) else escape(slack_user_id)


def plain(text: str) -> str:
    """Data for a plain_text field (headers, buttons, modal titles): Slack renders no markup
    there, but hidden characters would still mislead."""
    return str(text).translate(_HIDDEN)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def usd(amount: Decimal) -> str:
    return format_usd(amount)


def pct(value: Decimal) -> str:
    rounded = value.quantize(Decimal("1"))
    return f"{'+' if rounded > 0 else ''}{rounded}%"


def when(moment: datetime | None) -> str:
    """A date Slack renders in the reader's own time zone."""
    if moment is None:
        return "never"
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(plain(text), 150), "emoji": True},
    }


def section(text: str, accessory: Block | None = None, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(text, SECTION_TEXT_MAX)},
    }
    if accessory:
        block["accessory"] = accessory
    if block_id:
        block["block_id"] = block_id
    return block


def fields(pairs: list[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", 2000)}
            for label, value in pairs[:FIELDS_MAX]
        ],
    }


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(t, 3000)} for t in texts[:10]],
    }


def divider() -> Block:
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: dict[str, Any] | str,
    style: str | None = None,
    confirm: Block | None = None,
    url: str | None = None,
) -> Block:
    element: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": clip(plain(text), BUTTON_TEXT_MAX), "emoji": True},
        "value": value if isinstance(value, str) else json.dumps(value, separators=(",", ":")),
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    if url:
        element["url"] = url
    return element


def link_button(text: str, action_id: str, url: str) -> Block:
    return {
        "type": "button",
        "action_id": action_id,
        "url": url,
        "text": {"type": "plain_text", "text": clip(plain(text), BUTTON_TEXT_MAX), "emoji": True},
    }


def actions(block_id: str, *elements: Block) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def confirm(title: str, text: str, yes: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": title},
        "text": {"type": "mrkdwn", "text": text},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def notice(text: str, icon: str = ":information_source:") -> list[Block]:
    """A one-line reply (errors, refusals, confirmations)."""
    return [section(f"{icon} {text}")]


def refusal(reason: str) -> list[Block]:
    return notice(f"Sorry, {reason}.".replace("..", "."), icon=":no_entry:")


def problem(message: str) -> list[Block]:
    return notice(message, icon=":warning:")


def table(rows: list[tuple[str, str]], key_width: int = 28) -> str:
    """A monospaced two-column table (``` block): readable on a phone, no wrapping."""
    rows = [(escape(k), escape(v)) for k, v in rows]
    width = min(key_width, max((len(k) for k, _ in rows), default=0))
    lines = [f"{clip(k, width):<{width}}  {v:>12}" for k, v in rows]
    return "```\n" + "\n".join(lines) + "\n```"


def cap_blocks(blocks: list[Block]) -> list[Block]:
    if len(blocks) <= BLOCKS_MAX:
        return blocks
    return [*blocks[: BLOCKS_MAX - 1], context(f"…and {len(blocks) - BLOCKS_MAX + 1} more")]


def status_block(text: str) -> Block:
    block = context(text)
    block["block_id"] = "status"
    return block


def with_status(blocks: list[Block], status: str, keep_buttons: bool) -> list[Block]:
    """The same alert with a new status line; closed episodes lose their buttons."""
    kept = [
        b
        for b in blocks
        if b.get("block_id") != "status" and (keep_buttons or b.get("type") != "actions")
    ]
    return [*kept, status_block(status)]
