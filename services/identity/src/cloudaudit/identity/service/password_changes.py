"""A new password: by a reset link mailed to the account's address, or by the signed-in person
who knows the current one. Either way every other session ends and the owner is told by mail.
"""

from __future__ import annotations

import logging
from datetime import datetime

from cloudaudit.identity.adapters.rows import User
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain.errors import InvalidCredentials, InvalidToken
from cloudaudit.identity.domain.mails import TokenPurpose, password_changed_notice, reset_mail
from cloudaudit.identity.domain.passwords import (
    check_password_strength,
    normalise_email,
    token_digest,
)
from cloudaudit.identity.service.accounts import refuse_if_locked_out
from cloudaudit.identity.service.deps import IdentityDeps
from cloudaudit.identity.service.email_proof import issue_token, may_send_link
from cloudaudit.identity.service.handlers import _audit

log = logging.getLogger(__name__)
EXPIRED_RESET_LINK = (
    "this reset link is invalid, used already or expired; ask for a new one "
    "(POST /api/v1/password/reset with your email)"
)


async def request_password_reset(email: str, uow: IdentityUnitOfWork, deps: IdentityDeps) -> None:
    """Mail a reset link to a web account's address. Unknown addresses and people known only
    from Slack (who have no password to reset, and must not gain one by email alone) get
    nothing, and the answer is the same."""
    email = normalise_email(email)
    async with uow:
        user = await uow.repo.user_by_email(email)
        if user is None or not user.web_account:
            return
        if not await may_send_link(uow, user, TokenPurpose.RESET_PASSWORD, deps):
            return
        token = await issue_token(
            uow, user.user_id, TokenPurpose.RESET_PASSWORD, deps.reset_ttl, deps
        )
        await uow.commit()
    deps.mail.send_later(reset_mail(email, token, deps.reset_ttl, deps.links))


async def _hash_new(password: str, deps: IdentityDeps) -> str:
    check_password_strength(password)
    async with deps.passwords.turn():
        return await deps.passwords.hash(password)


async def _set_password(
    uow: IdentityUnitOfWork,
    user: User,
    password_hash: str,
    now: datetime,
    action: str,
    keep_session: str | None = None,
) -> int:
    """The new hash; the address counts as proven (a reset link just proved it, a change
    comes from an account that could log in); every session but `keep_session` ends."""
    await uow.repo.update_user(
        user.user_id, password_hash=password_hash, email_verified_at=user.email_verified_at or now
    )
    ended = await uow.repo.delete_sessions(user.user_id, keep_digest=keep_session)
    if user.email:
        await uow.repo.clear_failures(user.email)
    await _audit(uow, None, user.user_id, action, "user", str(user.user_id), {"sessions": ended})
    log.info(action, extra={"user_id": str(user.user_id), "sessions_ended": ended})
    return ended


async def reset_password(
    token: str, new_password: str, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> int:
    """Spend a reset token and set the new password; returns how many sessions ended."""
    password_hash = await _hash_new(new_password, deps)
    now = deps.now()
    async with uow:
        user_id = await uow.repo.use_token(token_digest(token), TokenPurpose.RESET_PASSWORD, now)
        user = await uow.repo.user(user_id) if user_id else None
        if user is None or not user.email:
            raise InvalidToken(EXPIRED_RESET_LINK)
        ended = await _set_password(uow, user, password_hash, now, "user.password_reset")
        await uow.repo.retire_tokens(user.user_id, TokenPurpose.RESET_PASSWORD, now)
        await uow.commit()
    deps.mail.send_later(password_changed_notice(user.email, deps.links))
    return ended


async def change_password(
    session_token: str,
    old_password: str,
    new_password: str,
    client: str,
    uow: IdentityUnitOfWork,
    deps: IdentityDeps,
) -> int:
    """The signed-in person's new password, given the current one (a wrong one counts as a
    failed log-in); this session stays, every other one ends. Returns how many ended."""
    password_hash, digest = await _hash_new(new_password, deps), token_digest(session_token)
    async with deps.passwords.turn(), uow:
        user_id = await uow.repo.session_user(digest, deps.now())
        user = await uow.repo.user(user_id) if user_id else None
        if user is None or not user.email:
            raise InvalidCredentials("session expired or invalid; log in again")
        await uow.repo.lock_login(user.email)
        await refuse_if_locked_out(user.email, client, uow, deps)
        if not await deps.passwords.verify(user.password_hash, old_password):
            await uow.repo.add_failure(user.email, client)
            await uow.commit()
            raise InvalidCredentials("the current password is incorrect")
        ended = await _set_password(
            uow, user, password_hash, deps.now(), "user.password_changed", keep_session=digest
        )
        await uow.commit()
    deps.mail.send_later(password_changed_notice(user.email, deps.links))
    return ended
