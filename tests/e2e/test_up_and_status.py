"""`cloudaudit up` on the embedded default: four healthy service processes, clean Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from cloudaudit.common.embedded import free_port
from cloudaudit.common.logging import share_logs_for_scan
from cloudaudit.common.testing import ACTOR_KEY_ENV, keep_log_for_scan

UP_TIMEOUT_S = 90


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudaudit.common", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def product_env(tmp_path: Path) -> dict[str, str]:
    # the product on its own: embedded servers, and actor keys made by identity on first start
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL", *ACTOR_KEY_ENV)
    }
    env.update(
        {
            "CLOUDAUDIT_STATE_DIR": str(tmp_path / "state"),
            "CLOUDAUDIT_EMBEDDED_NATS_PORT": str(free_port()),
            "CLOUDAUDIT_EMBEDDED_POSTGRES_PORT": str(free_port()),
            "IDENTITY_HTTP_PORT": str(free_port()),
            "INGEST_HTTP_PORT": str(free_port()),
            "ANALYTICS_HTTP_PORT": str(free_port()),
            "BOT_HEALTH_PORT": str(free_port()),
            "BOT_HTTP_PORT": str(free_port()),
            "WEB_HEALTH_PORT": str(free_port()),
            "WEB_HTTP_PORT": str(free_port()),
            "CLOUDAUDIT_LOG_FORMAT": "json",
        }
    )
    return env


def _wait_healthy(env: dict[str, str], proc: subprocess.Popen[str]) -> dict:
    deadline = time.monotonic() + UP_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, (
            f"cloudaudit up exited early: {proc.stdout.read() if proc.stdout else ''}"
        )
        result = _cli("status", "--json", env=env)
        if result.returncode == 0:
            return json.loads(result.stdout)
        last = result.stdout + result.stderr
        time.sleep(0.5)  # polling an external process; there is no event to wait on
    raise AssertionError(f"services not healthy within {UP_TIMEOUT_S}s: {last}")


def test_up_starts_everything_healthy_and_ctrl_c_leaves_no_process(product_env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudaudit.common", "up"],
        env=product_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = _wait_healthy(product_env, proc)
        assert [s["service"] for s in status["services"]] == [
            "identity",
            "ingest",
            "analytics",
            "bot",
            "web",
        ]
        assert all(s["bus"] == "healthy" and s["http"].endswith("200") for s in status["services"])
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len([c for c in children if "run" in c.cmdline()]) == 5
        login = f"http://127.0.0.1:{product_env['WEB_HTTP_PORT']}/login"
        with urllib.request.urlopen(login, timeout=10) as page:
            assert (
                page.status == 200
                and "unsafe-inline" not in page.headers["Content-Security-Policy"]
            )
        servers = [
            int(p)
            for p in (
                status["servers"]["nats"].split()[-1],
                status["servers"]["postgres"].split()[-1],
            )
        ]
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        share_logs_for_scan(Path(product_env["CLOUDAUDIT_STATE_DIR"]) / "logs", "up")
        keep_log_for_scan("cloudaudit-up", output)
    assert proc.returncode == 0, output
    assert "stopped embedded nats, postgres" in output
    for pid in [c.pid for c in children] + servers:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_status_when_nothing_runs_says_so_and_fails(product_env):
    result = _cli("status", env=product_env)
    assert result.returncode == 3
    assert "CloudAudit is not running" in result.stderr and "cloudaudit up" in result.stderr
    assert "Traceback" not in result.stderr


def _servers_of(state_dir: str) -> list[psutil.Process]:
    """nats-server / postgres processes working under this test's state directory."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if state_dir in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
    return found


def test_up_piped_into_a_closed_reader_then_ctrl_c_stops_everything_quietly(product_env):
    """`cloudaudit up | tee log`, then Ctrl-C: the terminal sends SIGINT to the whole pipeline,
    tee dies first, and every later write of `up` meets a closed pipe. Shutdown must go on."""
    state_dir = product_env["CLOUDAUDIT_STATE_DIR"]
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudaudit.common", "up", "identity"],
        env=product_env,
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell pipeline has
    )
    os.close(write_end)
    try:
        reader = os.fdopen(read_end, "r")
        deadline = time.monotonic() + UP_TIMEOUT_S
        seen = ""
        while "CloudAudit is up" not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen
            seen += reader.readline()
        assert _servers_of(state_dir), "the embedded servers should be running under up"
        children = psutil.Process(proc.pid).children(recursive=True)
        reader.close()  # tee is gone
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for leftover in _servers_of(state_dir):
            with contextlib.suppress(psutil.Error):
                leftover.kill()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr
    assert _servers_of(state_dir) == []
    for child in children:
        assert not psutil.pid_exists(child.pid) or child.status() == psutil.STATUS_ZOMBIE


def test_every_command_has_help(product_env):
    for command in (
        [],
        ["up"],
        ["run"],
        ["migrate"],
        ["status"],
        ["infra"],
        ["asyncapi"],
        ["teams"],
        ["users"],
        ["audit"],
    ):
        result = _cli(*command, "--help", env=product_env)
        assert result.returncode == 0 and "Usage" in result.stdout, (command, result.stderr)


def test_bad_setting_is_one_clear_line_not_a_traceback(product_env):
    result = _cli("status", env={**product_env, "DATABASE_URL": "mysql://x"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr
