"""Issuing and spending one-time codes (link, claim): hashed at rest, expiring, spent once, and
a few wrong tries per person per hour. A code is a secret: registered, so no log line has it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

from cloudaudit.common.logging import register_secret
from cloudaudit.identity.adapters.rows import OneTimeCode
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain.codes import (
    MAX_WRONG_CODES_PER_HOUR,
    CodePurpose,
    code_digest,
    looks_like_a_code,
    new_code,
)
from cloudaudit.identity.domain.errors import InvalidCode, TooManyAttempts
from cloudaudit.identity.service.deps import PeopleDeps

log = logging.getLogger(__name__)
WRONG_CODE_WINDOW = timedelta(hours=1)
WRONG_CODE = {
    CodePurpose.LINK_SLACK: "that code is unknown, used already or expired; type "
    "`/cloudaudit link` in Slack for a new one",
    CodePurpose.LINK_WEB: "that code is unknown, used already or expired; ask the web app for "
    "a new one (POST /api/v1/link/slack/code)",
    CodePurpose.CLAIM: "that claim code is unknown, used already or expired; the operator "
    "prints a new one with `cloudaudit teams claim-code`",
}


async def issue_code(
    uow: IdentityUnitOfWork,
    deps: PeopleDeps,
    purpose: CodePurpose,
    ttl: timedelta,
    **names: str | UUID | None,
) -> tuple[str, datetime]:
    """A new code for `purpose` and what it names (user_id, slack ids, team_id); the caller
    commits, then shows it."""
    code, now = new_code(), deps.now()
    register_secret(code)
    fields = {k: names.get(k) for k in ("user_id", "slack_team_id", "slack_user_id", "team_id")}
    await uow.repo.add_code(
        OneTimeCode(
            code_digest=code_digest(code),
            purpose=purpose.value,
            created_at=now,
            expires_at=now + ttl,
            used_at=None,
            **fields,  # type: ignore[arg-type]
        )
    )
    return code, now + ttl


async def spend_code(
    uow: IdentityUnitOfWork, deps: PeopleDeps, purpose: CodePurpose, code: str, subject: str
) -> OneTimeCode:
    """The live code, spent now; or, after too many wrong ones from `subject` this hour, a
    refusal. A wrong code is counted (committed at once) and refused."""
    now = deps.now()
    if looks_like_a_code(code):  # anything else typed is no secret, just a wrong code
        register_secret(code)
    if await uow.repo.code_failures_since(subject, now - WRONG_CODE_WINDOW) >= (
        MAX_WRONG_CODES_PER_HOUR
    ):
        log.warning("code refused: too many wrong ones", extra={"purpose": purpose.value})
        raise TooManyAttempts("too many wrong codes; wait an hour and ask for a new code")
    spent = await uow.repo.use_code(code_digest(code), purpose.value, now)
    if spent is None:
        await uow.repo.add_code_failure(subject, now)
        await uow.commit()
        log.info("wrong code", extra={"purpose": purpose.value})
        raise InvalidCode(WRONG_CODE[purpose])
    return spent
