"""Web accounts: sign-up, log-in with lock-out, sessions, and what a signed-in person sees."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from cloudaudit.common.actors import Actor
from cloudaudit.common.events.identity import ActorSource, Role
from cloudaudit.identity.adapters.rows import Membership, TeamMember, User
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain.errors import (
    EmailNotVerified,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    TooManyAttempts,
)
from cloudaudit.identity.domain.mails import (
    Mail,
    TokenPurpose,
    signup_notice,
    slack_known_notice,
    verification_mail,
)
from cloudaudit.identity.domain.passwords import (
    check_password_strength,
    new_session_token,
    normalise_email,
    token_digest,
)
from cloudaudit.identity.domain.people import TEAM_NOT_FOUND
from cloudaudit.identity.service.deps import IdentityDeps
from cloudaudit.identity.service.email_proof import issue_token
from cloudaudit.identity.service.handlers import _audit

log = logging.getLogger(__name__)
CLIENT_FAILURES_PER_EMAIL_LIMIT = 4  # one address may try a few emails before its own lock-out


@dataclass(frozen=True, kw_only=True)
class SignUpForm:
    email: str
    password: str
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None


def web_actor(team_id: UUID, user: User) -> Actor:
    """A signed-in person acting in a team through the web API. The role is a placeholder:
    identity's handlers judge by the member's role in the database, never by this one."""
    return Actor(team_id=team_id, user_id=user.user_id, role=Role.VIEWER, source=ActorSource.WEB)


async def sign_up(form: SignUpForm, uow: IdentityUnitOfWork, deps: IdentityDeps) -> None:
    """A new web account, inactive until its address is proven by the link mailed to it.

    The answer is the same whether or not the address is taken (nothing to enumerate): the
    owner of a taken address gets a notice instead, and nothing changes on their user. A
    person known only from Slack cannot be claimed this way either: a Slack profile's email
    proves nothing about who types it into a sign-up form."""
    email = normalise_email(form.email)
    check_password_strength(form.password)
    async with deps.passwords.turn():
        # hashed whatever the address: a taken one must not answer faster than a new one
        password_hash = await deps.passwords.hash(form.password)
    async with uow:
        await uow.repo.lock_login(email)  # two sign-ups of one address at once: one account
        existing = await uow.repo.user_by_email(email)
        if existing is None:
            mail = await _new_account(form, email, password_hash, uow, deps)
        else:
            mail = (
                signup_notice(email, deps.links)
                if existing.web_account
                else (slack_known_notice(email))
            )
            log.info("sign-up with a taken address", extra={"user_id": str(existing.user_id)})
        await uow.commit()
    deps.mail.send_later(mail)


async def _new_account(
    form: SignUpForm, email: str, password_hash: str, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> Mail:
    user_id = uuid4()
    await uow.repo.add_user(
        user_id,
        email=email,
        password_hash=password_hash,
        first_name=form.first_name[:100],
        last_name=form.last_name[:100],
        phone=form.phone,
        created_at=deps.now(),
    )
    token = await issue_token(uow, user_id, TokenPurpose.VERIFY_EMAIL, deps.verify_ttl, deps)
    await _audit(uow, None, user_id, "user.signed_up", "user", str(user_id), {})
    log.info("user signed up; verification mailed", extra={"user_id": str(user_id)})
    return verification_mail(email, token, deps.verify_ttl, deps.links)


def _login_email(email: str) -> str:
    try:
        return normalise_email(email)
    except InvalidInput:
        raise InvalidCredentials("email or password is incorrect") from None


async def refuse_if_locked_out(
    email: str, client: str, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> None:
    max_failures, window = deps.settings.login_max_failures, deps.login_window
    by_email, by_client = await uow.repo.recent_failures(email, client, deps.now() - window)
    if by_email >= max_failures or by_client >= max_failures * CLIENT_FAILURES_PER_EMAIL_LIMIT:
        log.warning("log-in refused: too many failures", extra={"client": client})
        raise TooManyAttempts(
            f"too many failed log-ins; wait {int(window.total_seconds() // 60)} minutes and try again"
        )


async def log_in(
    email: str, password: str, client: str, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> tuple[str, datetime, UUID]:
    """Returns (token, expires_at, user_id). Failures are counted per email and per client.

    Attempts on one email are serialised (a transaction-scoped lock), so concurrent guesses
    cannot all read "under the limit" before any failure is written; the argon2id check runs
    in identity's password workers, off the event loop."""
    email = _login_email(email)
    async with deps.passwords.turn(), uow:
        await uow.repo.lock_login(email)
        await refuse_if_locked_out(email, client, uow, deps)
        user = await uow.repo.user_by_email(email)
        if not await deps.passwords.verify(user.password_hash if user else None, password):
            await uow.repo.add_failure(email, client)
            await uow.commit()
            log.info("log-in failed", extra={"client": client, "known_user": user is not None})
            raise InvalidCredentials("email or password is incorrect")
        assert user is not None
        if user.email_verified_at is None:  # judged after the password: it leaks nothing
            raise EmailNotVerified(
                "confirm your email address first: open the link we mailed you, or ask for "
                "a new one with POST /api/v1/verify/resend"
            )
        token = new_session_token()
        expires_at = deps.now() + deps.session_ttl
        await uow.repo.add_session(token_digest(token), user.user_id, expires_at)
        await uow.repo.clear_failures(email)
        await uow.commit()
    log.info("log-in succeeded", extra={"user_id": str(user.user_id), "client": client})
    return token, expires_at, user.user_id


async def session_user(token: str, uow: IdentityUnitOfWork, deps: IdentityDeps) -> User:
    async with uow:
        user_id = await uow.repo.session_user(token_digest(token), deps.now())
        user = await uow.repo.user(user_id) if user_id else None
    if user is None:
        raise InvalidCredentials("session expired or invalid; log in again")
    return user


async def log_out(token: str, uow: IdentityUnitOfWork) -> None:
    async with uow:
        await uow.repo.delete_session(token_digest(token))
        await uow.commit()


async def log_out_everywhere(token: str, uow: IdentityUnitOfWork, deps: IdentityDeps) -> int:
    """End every session of the signed-in person, this one included; returns how many."""
    async with uow:
        user_id = await uow.repo.session_user(token_digest(token), deps.now())
        if user_id is None:
            raise InvalidCredentials("session expired or invalid; log in again")
        ended = await uow.repo.delete_sessions(user_id)
        await _audit(
            uow, None, user_id, "user.logged_out_everywhere", "user", str(user_id),
            {"sessions": ended},
        )  # fmt: skip
        await uow.commit()
    log.info("logged out everywhere", extra={"user_id": str(user_id), "sessions": ended})
    return ended


async def teams_of(user: User, uow: IdentityUnitOfWork) -> list[Membership]:
    async with uow:
        return await uow.repo.teams_of(user.user_id)


async def members_for(actor: Actor, uow: IdentityUnitOfWork) -> list[TeamMember]:
    """Members of a team, for its members only."""
    async with uow:
        if actor.user_id is None or await uow.repo.role_of(actor.team_id, actor.user_id) is None:
            raise NotFound(TEAM_NOT_FOUND)  # not a member: do not reveal that the team exists
        return await uow.repo.members(actor.team_id)
