"""Every Block Kit builder, found by introspection, fed hostile strings from the bill: no live
mention or link, no broken code fence, no hidden characters, and Slack's limits hold.

A new builder in `cloudaudit.bot.views` is covered without editing this test: its
arguments are generated from its type hints (event models included), every string hostile.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import pkgutil
import types
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import cloudaudit.bot.views as messages

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123ABC>",
    "<#C123ABC>",
    "<https://evil.example|click here>",
    "```",
    "`",
    "*_~",
    "\u202egnp.exe",
    "zero\u200bwidth",
    "&lt;!channel&gt;",
    "a" * 10_000,
]
LIVE = ["<!channel", "<!here", "<!everyone", "<@U", "<#C", "<https://evil"]
HIDDEN = ["\u202e", "\u200b"]
hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=3).map(" ".join),
    st.text(max_size=40).map(lambda t: f"{t}<!channel>{t}"),
)

# Parameters that carry text the bot composed itself (already-safe mrkdwn, ids it generated,
# its own enumerations), not data from a bill, a person or AWS.
OURS = {
    "action_id",
    "alert_text",
    "block_id",
    "channel_id",
    "chart_note",
    "frequency",
    "grouping",
    "line",
    "message_ts",
    "period_label",
    "problem",
    "recommendation_id",
    "status",
    "style",
    "url",
    "which",
    "who",  # a `<@U…>` mention of the person who acted, resolved by the bot from a user id
}
# The primitives that take composed mrkdwn; the builders above them are what is checked.
PRIMITIVES = "cloudaudit.bot.views.common"


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy_for(a) for a in typing.get_args(hint)))
    if origin in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis] or [str]
        return st.lists(strategy_for(args[0]), max_size=3)
    if origin is dict:
        return st.just({})
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(hint))
    if hint is type(None):
        return st.none()
    if hint is str:
        return hostile_text
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(0, 500)
    if hint is Decimal:
        return st.decimals(min_value=-1000, max_value=10**6, places=2, allow_nan=False)
    if hint is float:
        return st.floats(0, 1000)
    if hint is datetime:
        return st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC))
    if hint is date:
        return st.dates(date(2025, 1, 1), date(2027, 1, 1))
    if hint is UUID:
        return st.uuids()
    if hint is Any:
        return st.just({})
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if inspect.isclass(hint) and issubclass(hint, BaseModel):
        hints = typing.get_type_hints(hint)
        fields = {name: strategy_for(hints[name]) for name in hint.model_fields}
        return st.fixed_dictionaries(fields).map(lambda values: hint.model_construct(**values))
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        fields = {f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(hint)}
        return st.fixed_dictionaries(fields).map(lambda values: hint(**values))
    raise TypeError(f"no strategy for {hint!r}: teach strategy_for about it")


def builders() -> list[tuple[str, Any]]:
    found = []
    for info in pkgutil.iter_modules(messages.__path__):
        module = importlib.import_module(f"{messages.__name__}.{info.name}")
        if module.__name__ == PRIMITIVES:
            continue
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            returns = typing.get_type_hints(function).get("return")
            if returns in (bytes, bytes | None):  # an image (charts): no markup to escape
                continue
            # A str is a fragment (a url, a phrase the builders compose) unless it is a message
            # text of its own: notification texts and status lines are rendered as mrkdwn.
            if returns is str and not name.endswith(("_text", "_line")):
                continue
            found.append((f"{info.name}.{name}", function))
    return found


def arguments(function: Any) -> st.SearchStrategy[dict[str, Any]]:
    hints = typing.get_type_hints(function)
    params = {}
    for name, param in inspect.signature(function).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in OURS:
            params[name] = st.just(None) if param.default is None else st.just("ours")
            continue
        params[name] = strategy_for(hints[name])
    return st.fixed_dictionaries(params)


def texts(output: Any, kind: str = "mrkdwn") -> list[tuple[str, str]]:
    """(kind, text) of every text object in a builder's output; a bare string is mrkdwn."""
    if isinstance(output, str):
        return [(kind, output)]
    if isinstance(output, tuple | list):
        return [t for item in output for t in texts(item)]
    if isinstance(output, dict):
        if output.get("type") in ("mrkdwn", "plain_text") and isinstance(output.get("text"), str):
            return [(output["type"], output["text"])]
        # Only text objects are rendered; other strings (urls, ids, values) are not markup.
        return [t for v in output.values() if isinstance(v, dict | list) for t in texts(v)]
    return []


def check_limits(output: Any) -> None:
    if isinstance(output, list) and output and all(isinstance(b, dict) for b in output):
        assert len(output) <= 50, "more than 50 blocks"
    if isinstance(output, dict):
        kind = output.get("type")
        if kind == "header":
            assert len(output["text"]["text"]) <= 150
        if kind == "section":
            assert len(output.get("text", {}).get("text", "")) <= 3000
            assert len(output.get("fields", [])) <= 10
        if kind == "button":
            assert len(output["text"]["text"]) <= 75
            assert len(output.get("value", "")) <= 2000
        if kind == "context":
            assert len(output["elements"]) <= 10
    for child in output.values() if isinstance(output, dict) else output:
        if isinstance(child, dict | list | tuple):
            check_limits(child)


BUILDERS = builders()


def test_the_walk_found_the_builders():
    names = {name for name, _ in BUILDERS}
    assert {"spend.spend_table", "anomalies.anomaly_alert", "team.team_list"} <= names


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate),  # no shrinking: the draw labels name the input
)
@given(data=st.data())
def test_no_builder_lets_data_mention_link_break_a_fence_or_hide_text(data):
    for name, function in BUILDERS:
        output = function(**data.draw(arguments(function), label=name))
        for kind, text in texts(output):
            if kind == "mrkdwn":
                live = [marker for marker in LIVE if marker in text]
                assert not live, f"{name}: live {live} in {text[:300]!r}"
                assert text.count("```") % 2 == 0, f"{name}: broken code fence in {text[:300]!r}"
            hidden = [c for c in HIDDEN if c in text]
            assert not hidden, f"{name}: hidden characters {hidden!r}"
        check_limits(output)
