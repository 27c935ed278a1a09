"""Block Kit as readable terminal text, with numbered buttons and menu options to press."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EMOJI = {
    "white_check_mark": "✅",
    "warning": "⚠️",
    "x": "❌",
    "no_entry": "⛔",
    "red_circle": "🔴",
    "large_orange_circle": "🟠",
    "large_yellow_circle": "🟡",
    "white_circle": "⚪",
    "large_green_circle": "🟢",
    "bar_chart": "📊",
    "moneybag": "💰",
    "bulb": "💡",
    "rotating_light": "🚨",
    "zzz": "💤",
    "calendar": "📅",
    "loudspeaker": "📢",
    "no_bell": "🔕",
    "memo": "📝",
    "sparkles": "✨",
    "cloud": "☁️",
    "robot_face": "🤖",
    "information_source": "ℹ️",
    "hourglass_flowing_sand": "⏳",
    "thinking_face": "🤔",
    "arrow_up_small": "🔼",
    "arrow_down_small": "🔽",
    "arrows_counterclockwise": "🔄",
    "zipper_mouth_face": "🤐",
}
RULE = "─" * 60


@dataclass(frozen=True)
class Control:
    """Something a person can press: a button, or one option of a menu."""

    label: str
    block: dict[str, Any]
    element: dict[str, Any]
    option: str | None = None  # the option's label for menus
    url: str | None = None


Number = Callable[[Control], int]


def mrkdwn(text: str) -> str:
    text = re.sub(r"<!date\^\d+\^[^|>]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<@([A-Z0-9]+)>", r"@\1", text)
    text = re.sub(r"<#([A-Z0-9]+)(?:\|[^>]*)?>", r"#\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r":([a-z0-9_+-]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    text = text.replace("```\n", "").replace("\n```", "").replace("```", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: dict[str, Any] | None) -> str:
    return mrkdwn(str((obj or {}).get("text") or ""))


def _controls(block: dict[str, Any], elements: list[dict[str, Any]]) -> list[Control]:
    controls: list[Control] = []
    for element in elements:
        kind = element.get("type")
        if kind == "button":
            controls.append(
                Control(_text(element.get("text")), block, element, url=element.get("url"))
            )
        elif kind in ("static_select", "overflow"):
            current = ((element.get("initial_option") or {}).get("text") or {}).get("text")
            for option in element.get("options") or []:
                label = option["text"]["text"]
                if label != current:
                    controls.append(Control(f"make {label.lower()}", block, element, label))
    return controls


def render_blocks(blocks: list[dict[str, Any]], number: Number, indent: str = "") -> str:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines += [_text(block.get("text")).upper()]
        elif kind == "section":
            if block.get("text"):
                lines += _text(block["text"]).splitlines()
            for field in block.get("fields") or []:
                label, _, value = _text(field).partition("\n")
                lines.append(f"{label.strip('*')}: {value}")
            accessory = block.get("accessory")
            if accessory:
                lines += _buttons(_controls(block, [accessory]), number)
        elif kind == "context":
            lines.append(
                "  · "
                + "  ".join(
                    _text(e)
                    for e in block.get("elements") or []
                    if e.get("type") in ("mrkdwn", "plain_text")
                )
            )
        elif kind == "actions":
            lines += _buttons(_controls(block, block.get("elements") or []), number)
        elif kind == "divider":
            lines.append(RULE[:30])
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "input":
            hint = _text(block.get("hint"))
            optional = " (optional)" if block.get("optional") else ""
            lines.append(
                f"• {_text(block.get('label'))}{optional}" + (f" — {hint}" if hint else "")
            )
    return "\n".join(indent + line if line else line for line in lines)


def _buttons(controls: list[Control], number: Number) -> list[str]:
    if not controls:
        return []
    shown = []
    for control in controls:
        suffix = f" → {control.url}" if control.url else ""
        shown.append(f"[{number(control)}] {control.label}{suffix}")
    return ["   ".join(shown)]
