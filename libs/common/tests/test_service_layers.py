"""The shape every service's handler layer keeps: no SQL in `service/`, and short handlers.

Static checks over the source (ast): they need no servers and name each offender, so the
message says exactly what to move or split.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ROOT / "services"
MAX_FUNCTION_LINES = 45  # "about 40 lines at most", with room for a signature that wraps
SHORT_HANDLER_SERVICES = ("identity", "ingest", "analytics", "bot")
# Service modules that still talk to the database directly, being moved behind adapters.
SQL_IN_SERVICE_KNOWN: set[str] = set()
# Handlers still above the limit, being split.
LONG_HANDLERS_KNOWN: set[str] = set()


def _service_modules(services: tuple[str, ...] | None = None) -> Iterator[tuple[str, ast.Module]]:
    """(`<service>/service/<path>`, parsed module) for every service module."""
    for path in sorted(SERVICES.glob("*/src/cloudaudit/*/service/**/*.py")):
        service = path.relative_to(SERVICES).parts[0]
        if services is not None and service not in services:
            continue
        package = path.parents[0]
        while package.name != "service":
            package = package.parent
        name = f"{service}/service/{path.relative_to(package).as_posix()}"
        yield name, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _names_async_session(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "AsyncSession") or (
        isinstance(node, ast.Attribute) and node.attr == "AsyncSession"
    )


def _sql_uses(module: ast.Module) -> list[str]:
    """What in a module reaches for SQLAlchemy: its imports and any `AsyncSession` name."""
    found = []
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            found += [
                f"import {a.name}" for a in node.names if a.name.split(".")[0] == "sqlalchemy"
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found.append(f"from {node.module} import ...")
        elif _names_async_session(node):
            found.append(f"AsyncSession (line {node.lineno})")
        elif isinstance(node, ast.Attribute) and node.attr in ("session", "sessions", "engine"):
            found.append(f".{node.attr} (line {node.lineno}): a raw database handle")
        elif isinstance(node, ast.alias) and node.name.rsplit(".", 1)[-1] == "AsyncSession":
            found.append("imports AsyncSession")
    return found


def _long_functions(module: ast.Module) -> Iterator[tuple[str, int]]:
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                yield node.name, lines


def test_the_scan_sees_every_service():
    scanned = {name.split("/")[0] for name, _ in _service_modules()}
    assert {"identity", "ingest", "analytics", "bot"} <= scanned


def test_service_modules_reach_the_database_only_through_adapters():
    offenders = {}
    for name, module in _service_modules():
        uses = _sql_uses(module)
        if uses and name not in SQL_IN_SERVICE_KNOWN:
            offenders[name] = uses
    assert not offenders, (
        "service/ modules must not import sqlalchemy or hold an AsyncSession; move the query "
        f"into the service's adapters/ (a repository method returning a frozen dataclass): {offenders}"
    )
    still_known = {name for name, module in _service_modules() if _sql_uses(module)}
    assert still_known >= SQL_IN_SERVICE_KNOWN, (
        f"no longer reaching for SQL, drop from SQL_IN_SERVICE_KNOWN: "
        f"{sorted(SQL_IN_SERVICE_KNOWN - still_known)}"
    )


def test_handlers_stay_short():
    found = {
        f"{name}:{function}": lines
        for name, module in _service_modules(SHORT_HANDLER_SERVICES)
        for function, lines in _long_functions(module)
    }
    offenders = {key: lines for key, lines in found.items() if key not in LONG_HANDLERS_KNOWN}
    assert not offenders, (
        f"functions in service/ over {MAX_FUNCTION_LINES} lines; split them into small steps "
        f"or move the decision into domain/: {offenders}"
    )
    assert set(found) >= LONG_HANDLERS_KNOWN, (
        f"short now, drop from LONG_HANDLERS_KNOWN: {sorted(LONG_HANDLERS_KNOWN - set(found))}"
    )


def test_the_checks_catch_what_they_refuse():
    """The detectors themselves: a module with SQL and a long handler is reported."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source = (
        "from sqlalchemy import select\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        f"async def handle(session: AsyncSession) -> None:\n{body}\n"
        "def short(uow) -> None:\n    uow.session.execute()\n"
    )
    module = ast.parse(source)
    assert len(_sql_uses(module)) >= 4
    assert any(".session" in use for use in _sql_uses(module))
    assert list(_long_functions(module)) == [("handle", MAX_FUNCTION_LINES + 1)]
