"""Structured logging: one JSON line per event in production, readable lines on a terminal.

Secrets never reach a log line: every registered secret value and anything shaped like a
token is replaced before formatting, whatever logger or library emitted it.

Every line written while a bus message is handled carries that message's `event_id`, subject
and `correlation_id` (set by the consumer middleware in a context variable), so one cost day
can be followed to its anomaly and its Slack post through the logs of several services.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REDACTED = "***"
_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]+"), REDACTED),  # Slack bot/user/app tokens
    (re.compile(r"xapp-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"sk-[A-Za-z0-9_-]{10,}"), REDACTED),  # OpenAI-style API keys
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + REDACTED),
    (
        re.compile(
            r"(?i)(password|passwd|secret|token|external_?id)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"
        ),
        r"\1\2" + REDACTED,
    ),
    (
        re.compile(r"(postgres(?:ql)?(?:\+asyncpg)?://[^:/@\s]+:)[^@\s]+(@)"),
        r"\1" + REDACTED + r"\2",
    ),
]
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

_secrets: set[str] = set()
_secrets_lock = threading.Lock()

# Set by the test plugin for a whole test session and inherited by every process the tests
# start: their log files are linked there, and the secrets they register are listed there,
# so the session-end scan checks service processes' logs too. Unset in production.
SESSION_LOG_DIR_ENV = "CLOUDAUDIT_SESSION_LOG_DIR"
SESSION_SECRETS_DIR = "secrets"


def session_log_dir() -> Path | None:
    value = os.environ.get(SESSION_LOG_DIR_ENV)
    return Path(value) if value else None


def share_logs_for_scan(logs: Path, name: str) -> None:
    """Under a test session, make a directory of log files part of the session's secret scan."""
    session_dir = session_log_dir()
    if session_dir is None:
        return
    session_dir.mkdir(parents=True, exist_ok=True)
    link = session_dir / f"{name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    with contextlib.suppress(OSError):
        link.symlink_to(logs.resolve(), target_is_directory=True)


def _ledger_secret(value: str) -> None:
    session_dir = session_log_dir()
    if session_dir is None:
        return
    folder = session_dir / SESSION_SECRETS_DIR
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with (folder / f"{os.getpid()}.txt").open("a", encoding="utf-8") as ledger:
            ledger.write(value.replace("\n", " ") + "\n")


def register_secret(value: str | None) -> None:
    """Make a secret value unloggable (tokens, passwords, ExternalIds, DSNs).

    A URL's password is registered on its own too (it may be logged without the URL).
    """
    if not value or len(value) < 4:
        return
    values = {value}
    if "://" in value:
        with contextlib.suppress(ValueError):
            password = urlsplit(value).password
            if password and len(password) >= 4:
                values.add(password)
    with _secrets_lock:
        new = values - _secrets
        _secrets.update(values)
    for secret in new:
        _ledger_secret(secret)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class BusContext:
    """The bus message being handled: what every log line and every emitted event refers to."""

    subject: str
    event_id: str | None = None
    correlation_id: str | None = None

    def fields(self) -> dict[str, str]:
        found = {
            "subject": self.subject,
            "event_id": self.event_id,
            "correlation_id": self.correlation_id,
        }
        return {k: v for k, v in found.items() if v}


_bus_context: ContextVar[BusContext | None] = ContextVar("cloudaudit_bus_context", default=None)


def current_bus_context() -> BusContext | None:
    return _bus_context.get()


@contextmanager
def bus_context(
    subject: str, event_id: str | None = None, correlation_id: str | None = None
) -> Iterator[BusContext]:
    """While handling one message: its ids go into every log line (and into emitted events).

    A message without a correlation id starts a chain: its own event id becomes it.
    """
    context = BusContext(subject, event_id, correlation_id or event_id)
    token = _bus_context.set(context)
    try:
        yield context
    finally:
        _bus_context.reset(token)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    extras = {
        k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")
    }
    context = _bus_context.get()
    if context is not None:
        # What the line itself says wins (e.g. a relay naming the event it publishes).
        extras = {**context.fields(), **extras}
    return extras


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(payload, default=str))


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line += f"  [{extras}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


def configure_logging(level: str = "INFO", fmt: str = "auto", stream: Any = None) -> None:
    """Install one handler on the root logger (idempotent)."""
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.set_name("cloudaudit")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "cloudaudit":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Chatty libraries: keep their warnings, drop their per-request info lines.
    for noisy in ("aiohttp.access", "botocore", "urllib3", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
