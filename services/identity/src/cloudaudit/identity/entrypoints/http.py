"""The small HTTP API behind the web page: sign-up and email proof, log-in, passwords, me, my
teams, team members, audit."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from aiohttp import web
from cloudaudit.identity.adapters.rows import AuditRow, Membership, TeamMember, User
from cloudaudit.identity.domain.client_address import client_address
from cloudaudit.identity.domain.errors import (
    Conflict,
    EmailNotVerified,
    Forbidden,
    IdentityError,
    InvalidCode,
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    LastOwner,
    NotClaimed,
    NotFound,
    TooManyAttempts,
)
from cloudaudit.identity.domain.people import TEAM_NOT_FOUND
from cloudaudit.identity.entrypoints import http_people
from cloudaudit.identity.service import accounts, email_proof, handlers, password_changes
from cloudaudit.identity.service.accounts import SignUpForm, web_actor
from cloudaudit.identity.service.deps import IdentityDeps
from pydantic import BaseModel, Field, ValidationError

STATUS = {
    InvalidInput: 400,
    InvalidToken: 400,
    InvalidCode: 400,
    InvalidCredentials: 401,
    Forbidden: 403,
    EmailNotVerified: 403,
    NotFound: 404,
    Conflict: 409,
    NotClaimed: 409,
    LastOwner: 409,
    TooManyAttempts: 429,
}
MAX_BODY_BYTES = 16 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SignUp(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    phone: str | None = Field(default=None, max_length=40)


class LogIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenOnly(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class EmailOnly(BaseModel):
    email: str = Field(max_length=320)


class NewPassword(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(max_length=1024)


class PasswordChange(BaseModel):
    old_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


# One answer for every address, taken or not, so no answer tells whether an account exists.
SIGNUP_ANSWER = {
    "status": "check_your_email",
    "message": "we mailed a link to confirm this address; open it to activate your account "
    "(nothing arrived? POST /api/v1/verify/resend with your email)",
}
RESEND_ANSWER = {
    "status": "check_your_email",
    "message": "if an account waits for this address to be confirmed, a new link is on its way",
}
RESET_ANSWER = {
    "status": "check_your_email",
    "message": "if an account uses this address, a link to choose a new password is on its way",
}


class NewTeam(BaseModel):
    name: str = Field(min_length=1, max_length=200)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except IdentityError as exc:
        return _error(STATUS.get(type(exc), 400), exc.code, exc.message)
    except ValidationError as exc:
        # Field names only: never echo the submitted values (they may be passwords).
        fields = ", ".join(
            ".".join(str(p) for p in e["loc"]) + f" ({e['msg']})" for e in exc.errors()
        )
        return _error(400, "invalid_input", f"invalid request body: {fields}")


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise InvalidInput("request body too large")
    try:
        data = json.loads(await request.text() or "{}")
    except json.JSONDecodeError:
        raise InvalidInput("request body must be JSON") from None
    return model.model_validate(data)


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise InvalidCredentials("missing 'Authorization: Bearer <token>' header; log in first")
    return header[7:].strip()


def client_of(request: web.Request, deps: IdentityDeps) -> str:
    """The client the per-address log-in limit counts: the socket peer, or the address a
    trusted proxy forwarded (IDENTITY_TRUSTED_PROXY_HEADER, from IDENTITY_TRUSTED_PROXIES)."""
    settings = deps.settings
    header = settings.trusted_proxy_header
    forwarded = request.headers.getall(header, []) if header else []
    return client_address(request.remote, ",".join(forwarded), settings.proxy_networks)


def _team_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["team_id"])
    except ValueError:
        raise NotFound(TEAM_NOT_FOUND) from None


def _user_json(user: User) -> dict[str, Any]:
    return {
        "user_id": str(user.user_id),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "created_at": user.created_at.isoformat(),
    }


def _team_json(team: Membership) -> dict[str, Any]:
    return {
        "team_id": str(team.team_id),
        "name": team.name,
        "role": team.role.value,
        "joined_at": team.joined_at.isoformat(),
    }


def _member_json(member: TeamMember) -> dict[str, Any]:
    return {
        "user_id": str(member.user_id),
        "email": member.email,
        "role": member.role.value,
        "name": f"{member.first_name} {member.last_name}".strip(),
        "joined_at": member.joined_at.isoformat(),
    }


def _limit(request: web.Request) -> int:
    try:
        return int(request.query.get("limit", "100"))
    except ValueError:
        raise InvalidInput("limit must be a whole number") from None


def register(app: web.Application, deps: IdentityDeps) -> None:
    app.middlewares.append(errors_middleware)
    uow = deps.uow

    async def current_user(request: web.Request) -> User:
        return await accounts.session_user(_bearer(request), uow(), deps)

    async def sign_up(request: web.Request) -> web.Response:
        body: SignUp = await _body(request, SignUp)
        await accounts.sign_up(SignUpForm(**body.model_dump()), uow(), deps)
        return web.json_response(SIGNUP_ANSWER, status=202)

    async def verify(request: web.Request) -> web.Response:
        body: TokenOnly = await _body(request, TokenOnly)
        await email_proof.verify_email(body.token, uow(), deps)
        return web.json_response({"status": "verified", "message": "address confirmed; log in"})

    async def resend(request: web.Request) -> web.Response:
        body: EmailOnly = await _body(request, EmailOnly)
        await email_proof.resend_verification(body.email, uow(), deps)
        return web.json_response(RESEND_ANSWER, status=202)

    async def reset(request: web.Request) -> web.Response:
        body: EmailOnly = await _body(request, EmailOnly)
        await password_changes.request_password_reset(body.email, uow(), deps)
        return web.json_response(RESET_ANSWER, status=202)

    async def reset_confirm(request: web.Request) -> web.Response:
        body: NewPassword = await _body(request, NewPassword)
        ended = await password_changes.reset_password(body.token, body.new_password, uow(), deps)
        return web.json_response({"status": "password_changed", "sessions_ended": ended})

    async def change_password(request: web.Request) -> web.Response:
        token = _bearer(request)
        body: PasswordChange = await _body(request, PasswordChange)
        client = client_of(request, deps)
        ended = await password_changes.change_password(
            token, body.old_password, body.new_password, client, uow(), deps
        )
        return web.json_response({"status": "password_changed", "sessions_ended": ended})

    async def log_out_everywhere(request: web.Request) -> web.Response:
        ended = await accounts.log_out_everywhere(_bearer(request), uow(), deps)
        return web.json_response({"status": "logged_out", "sessions_ended": ended})

    async def log_in(request: web.Request) -> web.Response:
        body: LogIn = await _body(request, LogIn)
        client = client_of(request, deps)
        token, expires_at, user_id = await accounts.log_in(
            body.email, body.password, client, uow(), deps
        )
        return web.json_response(
            {"token": token, "expires_at": expires_at.isoformat(), "user_id": str(user_id)}
        )

    async def log_out(request: web.Request) -> web.Response:
        await accounts.log_out(_bearer(request), uow())
        return web.Response(status=204)

    async def me(request: web.Request) -> web.Response:
        return web.json_response(_user_json(await current_user(request)))

    async def my_teams(request: web.Request) -> web.Response:
        rows = await accounts.teams_of(await current_user(request), uow())
        return web.json_response({"teams": [_team_json(r) for r in rows]})

    async def create_team(request: web.Request) -> web.Response:
        user = await current_user(request)
        body: NewTeam = await _body(request, NewTeam)
        team_id = await handlers.create_team(body.name, user.user_id, uow())
        return web.json_response(
            {"team_id": str(team_id), "name": body.name.strip(), "role": "owner"}, status=201
        )

    async def members(request: web.Request) -> web.Response:
        actor = web_actor(_team_id(request), await current_user(request))
        rows = await accounts.members_for(actor, uow())
        return web.json_response({"members": [_member_json(r) for r in rows]})

    async def audit(request: web.Request) -> web.Response:
        actor = web_actor(_team_id(request), await current_user(request))
        rows = await handlers.read_audit(actor, None, _limit(request), uow())
        return web.json_response({"entries": [audit_json(r) for r in rows]})

    app.router.add_post("/api/v1/signup", sign_up)
    app.router.add_post("/api/v1/verify", verify)
    app.router.add_post("/api/v1/verify/resend", resend)
    app.router.add_post("/api/v1/login", log_in)
    app.router.add_post("/api/v1/logout", log_out)
    app.router.add_post("/api/v1/logout/all", log_out_everywhere)
    app.router.add_post("/api/v1/password/reset", reset)
    app.router.add_post("/api/v1/password/reset/confirm", reset_confirm)
    app.router.add_post("/api/v1/password/change", change_password)
    app.router.add_get("/api/v1/me", me)
    app.router.add_get("/api/v1/me/teams", my_teams)
    app.router.add_post("/api/v1/teams", create_team)
    app.router.add_get("/api/v1/teams/{team_id}/members", members)
    app.router.add_get("/api/v1/teams/{team_id}/audit", audit)
    http_people.register(app, deps, current_user, _body, _team_id, _bearer)


def audit_json(row: AuditRow) -> dict[str, Any]:
    return {
        "audit_id": str(row.audit_id),
        "team_id": str(row.team_id) if row.team_id else None,
        "user_id": str(row.user_id) if row.user_id else None,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "details": row.details,
        "source": row.source,
        "occurred_at": row.occurred_at.isoformat(),
        "created_at": row.created_at.isoformat(),
    }
