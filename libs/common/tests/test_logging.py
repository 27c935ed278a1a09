"""Structured logs never carry secrets, whichever logger emits them."""

from __future__ import annotations

import io
import json
import logging

from cloudaudit.common.logging import configure_logging, register_secret


def _emit(fmt: str, message: str, **extra) -> str:
    stream = io.StringIO()
    configure_logging("INFO", fmt, stream=stream)
    logging.getLogger("redaction-check.any_library").info(message, extra=extra)
    return stream.getvalue()


def test_json_lines_carry_context_fields():
    line = json.loads(_emit("json", "handled", team_id="t-1", event_id="e-1", duration_ms=12))
    assert line["msg"] == "handled" and line["team_id"] == "t-1" and line["duration_ms"] == 12
    assert line["ts"].endswith("+00:00")


def test_registered_secrets_and_token_shapes_are_redacted():
    register_secret("ext-id-7f3a9c")
    out = _emit(
        "console",
        "assume role with ext-id-7f3a9c using xoxb-1234-abcd and postgresql://app:hunter2@db/x",
        external_id="ext-id-7f3a9c",
    )
    assert "ext-id-7f3a9c" not in out and "xoxb-1234-abcd" not in out and "hunter2" not in out
    assert "***" in out


def test_exceptions_are_redacted_too():
    register_secret("sk-live-abcdefghijklmnop")
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        raise RuntimeError("bad key sk-live-abcdefghijklmnop")
    except RuntimeError:
        logging.getLogger("redaction-check.x").exception("call failed")
    assert "sk-live-abcdefghijklmnop" not in stream.getvalue()
    assert "RuntimeError" in stream.getvalue()


def test_the_session_secret_scan_finds_a_leak_and_ignores_redaction_checks():
    from cloudaudit.common.testing import find_leaks

    lines = [
        "cloudaudit.ingest: assuming role with ExtId-12345678 {}",
        "cloudaudit.bot: posted {}",
        "redaction-check.x: ExtId-12345678 {}",
    ]
    assert find_leaks(lines, {"ExtId-12345678"}) == [("ExtI…", lines[0])]
