"""Views are pure: `bot/views/` imports nothing from the bot's transport, handlers or adapters.

Handlers call views; a view that reached back into `service/` or `adapters/` would make a
message depend on a database or a Slack call, and one in `entrypoints/` would tie it to Bolt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cloudaudit.bot.views as views_package

VIEWS = Path(views_package.__file__).parent
FORBIDDEN = (
    "cloudaudit.bot.entrypoints",
    "cloudaudit.bot.service",
    "cloudaudit.bot.adapters",
    "slack_bolt",
    "slack_sdk",
    "sqlalchemy",
)


def _imports(module: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def _offenders(source: str) -> list[str]:
    return [
        name
        for name in _imports(ast.parse(source))
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]


def test_every_view_module_is_scanned():
    scanned = {path.stem for path in VIEWS.glob("*.py")}
    assert {"common", "anomalies", "recommendations", "digest", "charts"} <= scanned


def test_views_import_nothing_from_transport_handlers_or_adapters():
    found = {
        path.name: offenders
        for path in sorted(VIEWS.glob("*.py"))
        if (offenders := _offenders(path.read_text(encoding="utf-8")))
    }
    assert not found, (
        "bot/views/ must stay pure (data in, blocks out); pass what the view needs as arguments "
        f"instead of importing it: {found}"
    )


def test_the_check_catches_a_view_that_reaches_back():
    source = (
        "from cloudaudit.bot.service import posting\n"
        "import cloudaudit.bot.adapters.repository\n"
        "from cloudaudit.bot.domain.digest import Mover\n"
    )
    assert _offenders(source) == ["cloudaudit.bot.service", "cloudaudit.bot.adapters.repository"]
