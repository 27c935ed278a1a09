"""The web app's pages: each route parses the request, asks one service, renders one template."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import jinja2
from aiohttp import web
from pydantic import SecretStr, ValidationError

from cloudaudit.common.clock import today
from cloudaudit.common.events import anomaly, cost, identity, recommendation
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.web.adapters.identity_api import IdentityApi
from cloudaudit.web.adapters.platform import Platform, ServiceRefused
from cloudaudit.web.service import sessions
from cloudaudit.web.settings import WebSettings
from cloudaudit.web.views.tables import chart_option, spend_csv, spend_table

PACKAGE = Path(__file__).resolve().parent.parent
# No inline script or style anywhere: ECharts styles through the CSSOM, which CSP allows.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_ROLES = frozenset({Role.OWNER, Role.ADMIN})
DASHBOARD_DAYS = 30


@dataclass
class Viewer:
    """The signed-in person as identity vouched for them on this request."""

    session_token: str
    session: identity.WebSessionReply

    def token(self, audience: Audience) -> SecretStr:
        return self.session.tokens[audience]

    @property
    def is_admin(self) -> bool:
        return self.session.role in ADMIN_ROLES


@dataclass
class WebApp:
    settings: WebSettings
    platform: Platform
    identity_api: IdentityApi
    templates: jinja2.Environment

    # -- sessions ------------------------------------------------------------------------------
    async def viewer(self, request: web.Request) -> Viewer | None:
        token = request.cookies.get(sessions.SESSION_COOKIE)
        if not token:
            return None
        team = _uuid(request.cookies.get(sessions.TEAM_COOKIE))
        try:
            reply = await self._session(token, team)
        except ServiceRefused as exc:
            if exc.code == "not_found" and team is not None:
                reply = await self._session(token, None)  # the team cookie names a stale team
            elif exc.code == "unavailable":
                raise
            else:
                return None
        return Viewer(token, reply)

    async def _session(self, token: str, team: UUID | None) -> identity.WebSessionReply:
        return await self.platform.ask(
            identity.RPC_WEB_SESSION,
            identity.WebSessionRequest(session_token=SecretStr(token), team_id=team),
            identity.WebSessionReply,
        )

    def csrf_binding(self, request: web.Request) -> str | None:
        return request.cookies.get(sessions.SESSION_COOKIE) or request.cookies.get(
            sessions.PRE_SESSION_COOKIE
        )

    def render(
        self,
        request: web.Request,
        name: str,
        viewer: Viewer | None,
        status: int = 200,
        **values: Any,
    ) -> web.Response:
        binding = self.csrf_binding(request) or request.get(PRE_SESSION)
        assert binding, "the middleware gives every visitor a pre-session"
        html = self.templates.get_template(name).render(
            viewer=viewer,
            csrf_field=sessions.CSRF_FIELD,
            csrf=sessions.csrf_token(self.settings.csrf_key.get_secret_value(), binding),
            path=request.path,
            **values,
        )
        return web.Response(text=html, status=status, content_type="text/html")

    def set_cookie(self, response: web.StreamResponse, name: str, value: str) -> None:
        response.set_cookie(
            name, value, httponly=True, samesite="Lax", secure=self.settings.secure_cookies,
            max_age=sessions.SESSION_MAX_AGE_S, path="/",
        )  # fmt: skip


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


APP_KEY = web.AppKey("cloudaudit_web", WebApp)
PRE_SESSION = web.RequestKey("pre_session", str)


def _app(request: web.Request) -> WebApp:
    return request.app[APP_KEY]


@web.middleware
async def security(request: web.Request, handler: Any) -> web.StreamResponse:
    """Headers on every answer, a pre-session for CSRF before log-in, CSRF on every change."""
    app = _app(request)
    fresh_pre = None
    if app.csrf_binding(request) is None:
        fresh_pre = sessions.new_pre_session()
        request[PRE_SESSION] = fresh_pre
    if request.method not in SAFE_METHODS:
        form = await request.post()
        token = form.get(sessions.CSRF_FIELD) or request.headers.get("X-CSRF-Token")
        key = app.settings.csrf_key.get_secret_value()
        if not sessions.csrf_valid(key, app.csrf_binding(request), str(token or "")):
            response: web.StreamResponse = web.Response(
                status=403,
                text="This form has expired or did not come from CloudAudit: reload the page "
                "and send it again.",
            )
            _headers(response)
            return response
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects: the same headers, then raised on
        if fresh_pre is not None:
            app.set_cookie(exc, sessions.PRE_SESSION_COOKIE, fresh_pre)
        _headers(exc)
        raise
    if fresh_pre is not None:
        app.set_cookie(response, sessions.PRE_SESSION_COOKIE, fresh_pre)
    _headers(response)
    return response


def _headers(response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if response.content_type == "text/html":
        response.headers["Cache-Control"] = "no-store"


async def _signed_in(request: web.Request) -> Viewer:
    viewer = await _app(request).viewer(request)
    if viewer is None:
        raise web.HTTPSeeOther("/login")
    return viewer


def _not_found(request: web.Request, viewer: Viewer | None) -> web.Response:
    return _app(request).render(request, "not_found.html", viewer, status=404)


# -- accounts --------------------------------------------------------------------------------
async def home(request: web.Request) -> web.StreamResponse:
    viewer = await _app(request).viewer(request)
    raise web.HTTPSeeOther("/dashboard" if viewer else "/login")


async def signup_page(request: web.Request) -> web.StreamResponse:
    return _app(request).render(request, "signup.html", None)


async def signup(request: web.Request) -> web.StreamResponse:
    app, form = _app(request), await request.post()
    answer = await app.identity_api.post(
        "signup",
        {
            "email": str(form.get("email", "")),
            "password": str(form.get("password", "")),
            "first_name": str(form.get("first_name", "")),
            "last_name": str(form.get("last_name", "")),
        },
    )
    if answer.status != 202:
        return app.render(request, "signup.html", None, status=400, error=answer.message)
    return app.render(request, "check_email.html", None, email=str(form.get("email", "")))


async def verify_page(request: web.Request) -> web.StreamResponse:
    token = request.query.get("token", "")
    return _app(request).render(request, "verify.html", None, token=token)


async def verify(request: web.Request) -> web.StreamResponse:
    app, form = _app(request), await request.post()
    answer = await app.identity_api.post("verify", {"token": str(form.get("token", ""))})
    if answer.status != 200:
        return app.render(request, "verify.html", None, status=400, error=answer.message)
    return app.render(request, "login.html", None, notice="Your address is verified: log in.")


async def login_page(request: web.Request) -> web.StreamResponse:
    return _app(request).render(request, "login.html", None)


async def login(request: web.Request) -> web.StreamResponse:
    app, form = _app(request), await request.post()
    answer = await app.identity_api.post(
        "login", {"email": str(form.get("email", "")), "password": str(form.get("password", ""))}
    )
    if answer.status != 200:
        return app.render(request, "login.html", None, status=400, error=answer.message)
    response = web.HTTPSeeOther("/dashboard")
    # identity's fresh token is the session: whatever cookie came in is replaced
    app.set_cookie(response, sessions.SESSION_COOKIE, str(answer.body["token"]))
    response.del_cookie(sessions.PRE_SESSION_COOKIE, path="/")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    app = _app(request)
    token = request.cookies.get(sessions.SESSION_COOKIE)
    if token:
        await app.identity_api.post("logout", {}, token=token)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(sessions.SESSION_COOKIE, path="/")
    response.del_cookie(sessions.TEAM_COOKIE, path="/")
    raise response


async def create_team(request: web.Request) -> web.StreamResponse:
    app, viewer, form = _app(request), await _signed_in(request), await request.post()
    answer = await app.identity_api.post(
        "teams", {"name": str(form.get("name", ""))}, token=viewer.session_token
    )
    if answer.status != 201:
        return app.render(request, "dashboard.html", viewer, status=400, error=answer.message)
    response = web.HTTPSeeOther("/dashboard")
    app.set_cookie(response, sessions.TEAM_COOKIE, str(answer.body["team_id"]))
    raise response


async def switch_team(request: web.Request) -> web.StreamResponse:
    app, viewer, form = _app(request), await _signed_in(request), await request.post()
    team = _uuid(str(form.get("team_id", "")))
    if team is None or team not in {t.team_id for t in viewer.session.teams}:
        return _not_found(request, viewer)
    response = web.HTTPSeeOther("/dashboard")
    app.set_cookie(response, sessions.TEAM_COOKIE, str(team))
    raise response


# -- dashboard -------------------------------------------------------------------------------
def _month_start(day: date) -> date:
    return day.replace(day=1)


async def _spend(app: WebApp, viewer: Viewer, start: date, end: date, **kw: Any) -> cost.SpendReply:
    return await app.platform.ask(
        cost.RPC_SPEND,
        cost.SpendRequest(actor_token=viewer.token(Audience.INGEST), start=start, end=end, **kw),
        cost.SpendReply,
    )


async def _dashboard_data(app: WebApp, viewer: Viewer) -> dict[str, Any]:
    end = today() + timedelta(days=1)
    start = end - timedelta(days=DASHBOARD_DAYS)
    series = await _spend(app, viewer, start, end)
    this_month = _month_start(today())
    last_month = _month_start(this_month - timedelta(days=1))
    mtd = await _spend(app, viewer, this_month, end, granularity=cost.Granularity.NONE)
    last = await _spend(app, viewer, last_month, this_month, granularity=cost.Granularity.NONE)
    table = spend_table(series)
    return {
        "table": table,
        "start": start,
        "end": end,
        "month_to_date": mtd.total,
        "last_month": last.total,
        "chart": json.dumps(chart_option(table)),
    }


async def dashboard(request: web.Request) -> web.StreamResponse:
    app, viewer = _app(request), await _signed_in(request)
    if viewer.session.team_id is None:
        return app.render(request, "dashboard.html", viewer)
    return app.render(request, "dashboard.html", viewer, **await _dashboard_data(app, viewer))


async def dashboard_csv(request: web.Request) -> web.StreamResponse:
    app, viewer = _app(request), await _signed_in(request)
    if viewer.session.team_id is None:
        return _not_found(request, viewer)
    data = await _dashboard_data(app, viewer)
    return web.Response(
        text=spend_csv(data["table"]),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="spend-by-service.csv"'},
    )


# -- anomalies, recommendations, audit -------------------------------------------------------
async def _team_anomalies(app: WebApp, viewer: Viewer, limit: int) -> list[anomaly.AnomalySummary]:
    """The newest anomalies of the viewer's team, as analytics lists them for this actor."""
    reply = await app.platform.ask(
        anomaly.RPC_ANOMALIES,
        anomaly.AnomaliesRequest(
            actor_token=viewer.token(Audience.ANALYTICS), status=None, limit=limit
        ),
        anomaly.AnomaliesReply,
    )
    return list(reply.anomalies)


async def anomalies(request: web.Request) -> web.StreamResponse:
    app, viewer = _app(request), await _signed_in(request)
    rows: list[anomaly.AnomalySummary] = []
    if viewer.session.team_id is not None:
        rows = await _team_anomalies(app, viewer, limit=100)
    return app.render(request, "anomalies.html", viewer, anomalies=rows)


async def anomaly_page(request: web.Request) -> web.StreamResponse:
    app, viewer = _app(request), await _signed_in(request)
    wanted = _uuid(request.match_info["anomaly_id"])
    if viewer.session.team_id is None or wanted is None:
        return _not_found(request, viewer)
    # the list is the actor's team's only: an id of another team is simply not in it
    found = next(
        (a for a in await _team_anomalies(app, viewer, limit=200) if a.anomaly_id == wanted),
        None,
    )
    if found is None:
        return _not_found(request, viewer)
    return app.render(request, "anomaly.html", viewer, anomaly=found)


async def recommendations(request: web.Request) -> web.StreamResponse:
    app, viewer = _app(request), await _signed_in(request)
    rows: list[recommendation.RecommendationSummary] = []
    if viewer.session.team_id is not None:
        reply = await app.platform.ask(
            recommendation.RPC_RECOMMENDATIONS,
            recommendation.RecommendationsRequest(
                actor_token=viewer.token(Audience.ANALYTICS), status=None, limit=100
            ),
            recommendation.RecommendationsReply,
        )
        rows = reply.recommendations
    notice = request.query.get("notice")
    return app.render(request, "recommendations.html", viewer, recommendations=rows, notice=notice)


async def decide(request: web.Request) -> web.StreamResponse:
    app, viewer, form = _app(request), await _signed_in(request), await request.post()
    wanted = _uuid(request.match_info["recommendation_id"])
    if viewer.session.team_id is None or wanted is None:
        return _not_found(request, viewer)
    try:
        decision = recommendation.Decision(str(form.get("decision", "")))
        snooze = int(str(form["snooze_days"])) if form.get("snooze_days") else None
        command = recommendation.DecideRequest(
            actor_token=viewer.token(Audience.ANALYTICS),
            recommendation_id=wanted,
            decision=decision,
            snooze_days=snooze if decision is recommendation.Decision.SNOOZE else None,
        )
    except (ValueError, ValidationError):
        return app.render(
            request, "recommendations.html", viewer, status=400, recommendations=[],
            error="Choose approve, dismiss or snooze (1 to 365 days).",
        )  # fmt: skip
    try:
        reply = await app.platform.ask(
            recommendation.RPC_DECIDE, command, recommendation.DecideReply
        )
    except ServiceRefused as exc:
        if exc.code == "not_found":
            return _not_found(request, viewer)
        status = 403 if exc.code in {"forbidden", "not_allowed", "unauthorized"} else 400
        return app.render(
            request, "recommendations.html", viewer, status=status, recommendations=[],
            error=exc.message,
        )  # fmt: skip
    raise web.HTTPSeeOther(f"/recommendations?notice={reply.status or decision.value}")


async def audit_log(request: web.Request) -> web.StreamResponse:
    app, viewer = _app(request), await _signed_in(request)
    if viewer.session.team_id is None or not viewer.is_admin:
        return _not_found(request, viewer)  # owners and admins only; others do not see it exists
    reply = await app.platform.ask(
        identity.RPC_AUDIT_LOG,
        identity.AuditLogRequest(actor_token=viewer.token(Audience.IDENTITY), limit=100),
        identity.AuditLogReply,
    )
    return app.render(request, "audit.html", viewer, entries=reply.entries)


async def unavailable(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ServiceRefused as exc:
        return _app(request).render(request, "error.html", None, status=503, error=exc.message)


def register(app: web.Application, web_app: WebApp) -> None:
    app[APP_KEY] = web_app
    app.middlewares.append(security)
    app.middlewares.append(web.middleware(unavailable))
    routes = app.router
    routes.add_get("/", home)
    routes.add_get("/signup", signup_page)
    routes.add_post("/signup", signup)
    routes.add_get("/verify", verify_page)
    routes.add_post("/verify", verify)
    routes.add_get("/login", login_page)
    routes.add_post("/login", login)
    routes.add_post("/logout", logout)
    routes.add_post("/teams", create_team)
    routes.add_post("/team", switch_team)
    routes.add_get("/dashboard", dashboard)
    routes.add_get("/dashboard.csv", dashboard_csv)
    routes.add_get("/anomalies", anomalies)
    routes.add_get("/anomalies/{anomaly_id}", anomaly_page)
    routes.add_get("/recommendations", recommendations)
    routes.add_post("/recommendations/{recommendation_id}/decide", decide)
    routes.add_get("/audit", audit_log)
    routes.add_static("/static", PACKAGE / "static", append_version=False)
