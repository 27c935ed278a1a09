"""Proof that a person reads an address: one-time tokens mailed to it, verified and spent once.

A token is 32 random bytes; only its SHA-256 digest is stored, with its purpose and expiry, so
neither a database leak nor a log hands out a live link. Requests for a new link answer the
same whatever the address, and at most MAX_LINKS_PER_HOUR links of a kind go to one person.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from cloudaudit.identity.adapters.rows import User
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain.errors import InvalidToken
from cloudaudit.identity.domain.mails import TokenPurpose, verification_mail
from cloudaudit.identity.domain.passwords import new_session_token, normalise_email, token_digest
from cloudaudit.identity.service.deps import IdentityDeps
from cloudaudit.identity.service.handlers import _audit

log = logging.getLogger(__name__)
MAX_LINKS_PER_HOUR = 3  # per person and kind: enough for a lost mail, too few to flood a box
LINK_RATE_WINDOW = timedelta(hours=1)
EXPIRED_LINK = (
    "this link is invalid, used already or expired; ask for a new one "
    "(POST /api/v1/verify/resend with your email)"
)


async def issue_token(
    uow: IdentityUnitOfWork,
    user_id: UUID,
    purpose: TokenPurpose,
    ttl: timedelta,
    deps: IdentityDeps,
) -> str:
    """A new one-time token for `user_id`; the caller mails it after committing."""
    token, now = new_session_token(), deps.now()
    await uow.repo.add_token(token_digest(token), purpose.value, user_id, now, now + ttl)
    return token


async def may_send_link(
    uow: IdentityUnitOfWork, user: User, purpose: TokenPurpose, deps: IdentityDeps
) -> bool:
    """False once a person was sent MAX_LINKS_PER_HOUR links of this kind in the last hour."""
    sent = await uow.repo.tokens_since(user.user_id, purpose.value, deps.now() - LINK_RATE_WINDOW)
    if sent >= MAX_LINKS_PER_HOUR:
        log.warning(
            "link not mailed: hourly limit reached",
            extra={"user_id": str(user.user_id), "purpose": purpose.value},
        )
        return False
    return True


async def verify_email(token: str, uow: IdentityUnitOfWork, deps: IdentityDeps) -> None:
    """Spend a verification token: its account is active from now on."""
    now = deps.now()
    async with uow:
        user_id = await uow.repo.use_token(token_digest(token), TokenPurpose.VERIFY_EMAIL, now)
        if user_id is None:
            raise InvalidToken(EXPIRED_LINK)
        await uow.repo.update_user(user_id, email_verified_at=now)
        await uow.repo.retire_tokens(user_id, TokenPurpose.VERIFY_EMAIL, now)
        await _audit(uow, None, user_id, "user.email_verified", "user", str(user_id), {})
        await uow.commit()
    log.info("email verified", extra={"user_id": str(user_id)})


async def resend_verification(email: str, uow: IdentityUnitOfWork, deps: IdentityDeps) -> None:
    """A new link for an account whose address is not proven yet; for any other address
    (unknown, proven already, known only from Slack) nothing happens, and the answer is the
    same."""
    email = normalise_email(email)
    async with uow:
        user = await uow.repo.user_by_email(email)
        if user is None or not user.web_account or user.email_verified_at is not None:
            return
        if not await may_send_link(uow, user, TokenPurpose.VERIFY_EMAIL, deps):
            return
        token = await issue_token(
            uow, user.user_id, TokenPurpose.VERIFY_EMAIL, deps.verify_ttl, deps
        )
        await uow.commit()
    deps.mail.send_later(verification_mail(email, token, deps.verify_ttl, deps.links))
