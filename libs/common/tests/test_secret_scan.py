"""The session-end secret scan also reads the log files of service processes tests start, and
knows the secrets those processes registered."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cloudaudit.common.logging import SESSION_LOG_DIR_ENV, share_logs_for_scan
from cloudaudit.common.testing import (
    find_leaks,
    keep_log_for_scan,
    log_file_lines,
    secrets_registered_by_processes,
)

EXTERNAL_ID = "ExtId-7c1f0a9e42"


def test_service_log_files_and_the_secrets_their_processes_registered_are_scanned(
    tmp_path, monkeypatch
):
    session = tmp_path / "session"
    monkeypatch.setenv(SESSION_LOG_DIR_ENV, str(session))
    # A service process (as the stack starts them) registers its secret: it inherits the
    # session directory through the environment and lists the secret there.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from cloudaudit.common.logging import register_secret; "
            f"register_secret({EXTERNAL_ID!r})",
        ],
        env={**os.environ},
        check=True,
        timeout=60,
    )
    service_logs = tmp_path / "state" / "logs"
    service_logs.mkdir(parents=True)
    leaked = json.dumps({"logger": "cloudaudit.ingest", "msg": f"assuming with {EXTERNAL_ID}"})
    (service_logs / "ingest.log").write_text(
        json.dumps({"logger": "cloudaudit.ingest", "msg": "connected"}) + "\n" + leaked + "\n"
    )
    share_logs_for_scan(service_logs, "stack")  # what the product stack does at start
    keep_log_for_scan("demo-stderr", "one\ntwo\nthree\n")  # a process's captured output

    lines, files = log_file_lines(session)
    secrets = secrets_registered_by_processes(session)

    assert files == 2 and len(lines) == 5  # the secrets list itself is not a log file
    assert EXTERNAL_ID in secrets
    assert find_leaks(lines, secrets) == [("ExtI…", leaked[:160])]


def test_nothing_is_shared_outside_a_test_session(tmp_path, monkeypatch):
    monkeypatch.delenv(SESSION_LOG_DIR_ENV, raising=False)
    share_logs_for_scan(tmp_path, "stack")
    assert keep_log_for_scan("x", "line") is None
