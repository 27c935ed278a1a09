"""The dead-letter queue: what failed for good, why, and putting it back once the cause is fixed.

Every dead letter is a `DeadLetter` record in the DLQ stream (subject `dlq.v1.<subject>`), kept
for `DLQ_MAX_AGE_S`. Replaying republishes the original body to its original subject with a new
`Nats-Msg-Id` (JetStream's duplicate window would drop the original id), keeping the body's
`event_id`, so consumers that already applied it stay idempotent; the record is then deleted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cloudaudit.common.bus import CORRELATION_HEADER, MSG_ID_HEADER, BusNames, stream_for
from cloudaudit.common.clock import wall_now
from cloudaudit.common.events.dead_letter import DeadLetter
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

DLQ_STREAM = "DLQ"
DLQ_PREFIX = "dlq.v1."
REPLAY_ID_PREFIX = "replay-"


@dataclass(frozen=True)
class DeadLetterEntry:
    """One dead letter with its place in the DLQ stream (the id `show`/`replay` take)."""

    seq: int
    stored_at: datetime
    record: DeadLetter

    def summary(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "subject": self.record.original_subject,
            "consumer": self.record.consumer,
            "failed_at": self.record.failed_at.isoformat(),
            "deliveries": self.record.deliveries,
            "error_type": self.record.error_type,
            "error": self.record.error.splitlines()[0][:200] if self.record.error else "",
        }


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters a command acts on; every given condition must hold."""

    subject: str | None = None  # prefix of the original subject, e.g. "cost.v1"
    older_than: timedelta | None = None
    error: str | None = None  # case-insensitive text in the error type or message

    def matches(self, entry: DeadLetterEntry, now: datetime) -> bool:
        record = entry.record
        if self.subject and not record.original_subject.startswith(self.subject):
            return False
        if self.older_than is not None and now - entry.stored_at < self.older_than:
            return False
        if self.error:
            needle = self.error.lower()
            if needle not in record.error.lower() and needle not in record.error_type.lower():
                return False
        return True


async def dead_letters(
    js: JetStreamContext, names: BusNames, where: DeadLetterFilter, limit: int | None = None
) -> AsyncIterator[DeadLetterEntry]:
    """Dead letters oldest first. The DLQ is small by design (it pages someone), so each
    message is fetched by sequence number: no consumer is created on the stream."""
    stream = names.stream(DLQ_STREAM)
    info = await js.stream_info(stream)
    now, found = wall_now(), 0
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if limit is not None and found >= limit:
            return
        entry = await _entry(js, stream, seq)
        if entry is not None and where.matches(entry, now):
            found += 1
            yield entry


async def dead_letter(js: JetStreamContext, names: BusNames, seq: int) -> DeadLetterEntry:
    entry = await _entry(js, names.stream(DLQ_STREAM), seq)
    if entry is None:
        raise LookupError(
            f"no dead letter #{seq}: it was replayed, purged or aged out "
            "(`cloudaudit dlq list` shows what is there)"
        )
    return entry


async def count(js: JetStreamContext, names: BusNames) -> int:
    return int((await js.stream_info(names.stream(DLQ_STREAM))).state.messages)


async def replay(js: JetStreamContext, names: BusNames, entry: DeadLetterEntry) -> str:
    """Republish the original body to its subject; delete the dead letter once JetStream has
    stored it. Returns the new message id."""
    record = entry.record
    subject = record.original_subject
    replay_id = f"{REPLAY_ID_PREFIX}{entry.seq}-{uuid.uuid4()}"
    headers = {MSG_ID_HEADER: replay_id}
    correlation = _correlation_id(record.payload)
    if correlation:
        headers[CORRELATION_HEADER] = correlation
    await js.publish(
        names.subject(subject),
        record.payload.encode("utf-8"),
        stream=names.stream(stream_for(subject)),
        headers=headers,
    )
    await js.delete_msg(names.stream(DLQ_STREAM), entry.seq)
    return replay_id


async def purge(js: JetStreamContext, names: BusNames, entry: DeadLetterEntry) -> None:
    await js.delete_msg(names.stream(DLQ_STREAM), entry.seq)


async def _entry(js: JetStreamContext, stream: str, seq: int) -> DeadLetterEntry | None:
    try:
        raw = await js.get_msg(stream, seq)
    except NotFoundError:  # replayed, purged or aged out: sequence numbers have gaps
        return None
    if raw.data is None or raw.time is None:
        return None
    return DeadLetterEntry(seq, raw.time, DeadLetter.model_validate_json(raw.data))


def _correlation_id(payload: str) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    value = body.get("correlation_id") if isinstance(body, dict) else None
    return str(value) if value else None
