"""Dead letters: a message that failed N times (or could never parse) is kept with its error."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

DEAD_LETTER = "dlq.v1.{subject}"


class DeadLetter(BaseModel):
    original_subject: str
    consumer: str
    deliveries: int
    error_type: str
    error: str = Field(max_length=4000)
    failed_at: datetime
    payload: str = Field(description="The original body, decoded as UTF-8 with replacement.")
    message_id: str | None = None
