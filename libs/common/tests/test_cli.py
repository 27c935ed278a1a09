"""The `cloudaudit` command starts fast and answers plainly when nothing runs.

Start-up speed is kept by what is imported, not by a timer (a loaded CI machine would make a
timed test flaky): `--help` of every command must not import the database, bus or detector
libraries, nor any service's adapters or handlers. `benchmarks/cli_start.py` prints the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cloudaudit.common.embedded import free_port

HEAVY = ("sqlalchemy", "faststream", "nats", "asyncpg", "aiohttp", "river", "boto3", "slack_bolt")
SERVICE_CODE = {"service", "adapters", "domain", "views", "console", "slack"}  # packages


@pytest.fixture
def quiet_env(tmp_path: Path) -> dict[str, str]:
    """Nothing running: a fresh state directory, no configured servers."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env.update(
        CLOUDAUDIT_STATE_DIR=str(tmp_path / "state"),
        CLOUDAUDIT_EMBEDDED_NATS_PORT=str(free_port()),
        CLOUDAUDIT_EMBEDDED_POSTGRES_PORT=str(free_port()),
    )
    return env


def _loaded_after(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run the CLI in a fresh interpreter with `argv`; report exit code and what it imported."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from cloudaudit.common import cli
        cli._register_service_commands()
        try:
            cli.app({argv!r}, prog_name="cloudaudit")
        except SystemExit as exc:
            code = exc.code
        else:
            code = 0
        print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _too_heavy(modules: list[str]) -> list[str]:
    heavy = [m for m in modules if m.split(".")[0] in HEAVY]
    ours = [
        m
        for m in modules
        if m.startswith("cloudaudit.")
        and not m.startswith("cloudaudit.common")
        and SERVICE_CODE.intersection(m.split("."))
    ]
    return heavy + ours


def _commands() -> list[list[str]]:
    import typer
    from cloudaudit.common import cli

    cli._register_service_commands()
    group = typer.main.get_command(cli.app)
    found: list[list[str]] = [[]]
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        found.append([name])
        for sub in getattr(command, "commands", {}):
            found.append([name, sub])
    return found


@pytest.mark.slow
def test_help_of_every_command_imports_no_database_bus_or_service_code(quiet_env):
    commands = _commands()
    assert ["spend"] in commands and ["teams", "members"] in commands  # the walk found them
    for command in commands:
        result = _loaded_after([*command, "--help"], quiet_env)
        assert result["code"] == 0, command
        assert _too_heavy(result["modules"]) == [], command  # type: ignore[arg-type]


def test_status_with_nothing_running_says_how_to_start_without_loading_the_bus(quiet_env):
    result = _loaded_after(["status"], quiet_env)
    assert result["code"] == 3
    assert _too_heavy(result["modules"]) == []  # type: ignore[arg-type]

    shown = subprocess.run(
        [sys.executable, "-m", "cloudaudit.common", "status"],
        env=quiet_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 3
    assert "CloudAudit is not running" in shown.stderr
    assert "make up" in shown.stderr and "cloudaudit up" in shown.stderr
    assert "unreachable" not in shown.stdout + shown.stderr
    assert "Traceback" not in shown.stderr


def test_status_json_says_not_running(quiet_env):
    shown = subprocess.run(
        [sys.executable, "-m", "cloudaudit.common", "status", "--format", "json"],
        env=quiet_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    body = json.loads(shown.stdout)
    assert shown.returncode == 3
    assert body["running"] is False and body["healthy"] is False
    assert body["servers"] == {"nats": "embedded, stopped", "postgres": "embedded, stopped"}
    assert [s["service"] for s in body["services"]] == [
        "identity",
        "ingest",
        "analytics",
        "bot",
        "web",
    ]
    assert all(set(s) == {"service", "bus", "http", "notes"} for s in body["services"])


def test_infra_status_json_when_nothing_runs(quiet_env):
    shown = subprocess.run(
        [sys.executable, "-m", "cloudaudit.common", "infra", "status", "--format", "json"],
        env=quiet_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    body = json.loads(shown.stdout)
    assert shown.returncode == 0
    assert body["nats"]["pid"] is None and body["postgres"]["pid"] is None
    assert body["nats"]["url"] == f"nats://127.0.0.1:{quiet_env['CLOUDAUDIT_EMBEDDED_NATS_PORT']}"


def test_install_byte_compiles_the_start_up_modules(tmp_path):
    # `make install` runs `python -m cloudaudit.common.bytecode`: it must find the modules a
    # start imports (here in a fresh interpreter, so nothing else is loaded), Typer's included.
    script = (
        "from cloudaudit.common.bytecode import start_up_modules;"
        "print('\\n'.join(str(p) for p in start_up_modules()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    files = done.stdout.split()
    assert any(f.endswith("typer/main.py") for f in files)
    assert any(f.endswith("cloudaudit/common/cli.py") for f in files)
    assert any(f.endswith("pydantic_settings/main.py") for f in files)
    assert not [f for f in files if "/sqlalchemy/" in f or "/faststream/" in f]


def test_a_service_with_an_empty_secret_refuses_to_start_and_names_it(quiet_env):
    env = dict(quiet_env, SLACK_SIGNING_SECRET="", SLACK_BOT_TOKEN="xoxb-never-printed")
    result = subprocess.run(
        [sys.executable, "-m", "cloudaudit.common", "run", "bot"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "SLACK_SIGNING_SECRET set but empty" in result.stderr
    assert "Traceback" not in result.stderr and "xoxb-never-printed" not in result.stderr
    # the embedded servers it started for itself did not outlive it
    from cloudaudit.common.embedded import EmbeddedInfrastructure

    left = EmbeddedInfrastructure(
        Path(env["CLOUDAUDIT_STATE_DIR"]),
        int(env["CLOUDAUDIT_EMBEDDED_NATS_PORT"]),
        int(env["CLOUDAUDIT_EMBEDDED_POSTGRES_PORT"]),
    )
    assert left.nats.running_pid() is None and left.postgres.running_pid() is None
