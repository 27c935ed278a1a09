"""The Bolt app and its HTTP endpoint: signatures, OAuth install flow, Socket Mode option.

HTTP mode serves Bolt's standard `/slack/events` (commands, events, interactivity) plus
`/slack/install` and `/slack/oauth_redirect` when a client id/secret is set. Installations and
OAuth state live in the bot schema through slack_sdk's SQLAlchemy stores, the installations'
credentials sealed with the data key (adapters/installation_store.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.lazy_listener.async_internals import to_runnable_function
from slack_bolt.lazy_listener.async_runner import AsyncLazyListenerRunner
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudaudit.bot.adapters.installation_store import InstallationStore, TokenSealer
from cloudaudit.bot.adapters.orm import SLACK_OAUTH_STATES
from cloudaudit.bot.domain.errors import BotError
from cloudaudit.bot.entrypoints.slack import commands, events, interactive
from cloudaudit.bot.service import people
from cloudaudit.bot.service.actors import ActorDirectory
from cloudaudit.bot.service.deps import Deps
from cloudaudit.bot.settings import BotSettings, SlackMode

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
LAZY_DRAIN_S = 10.0
NOT_INSTALLED = (
    "CloudAudit is not installed in this Slack workspace (or it was removed). "
    "Ask a workspace admin to install it again from CloudAudit's install page."
)


ORG_WIDE_INSTALL = (
    "CloudAudit is installed per workspace, and this was an organisation-wide install, so "
    "nothing was set up. Install CloudAudit from one workspace of your organisation."
)
OWNER_NOT_RECORDED = (
    "CloudAudit was installed, but could not record you as the owner of this workspace's team "
    "(the identity service did not answer). Install it again in a minute: nothing else changes."
)


def _installed(
    deps: Deps, store: InstallationStore | None
) -> Callable[[AsyncSuccessArgs], Awaitable[BoltResponse]]:
    """After Slack's OAuth round trip: the installer Slack authenticated is told to identity,
    which makes them the workspace team's first owner (never whoever types first)."""

    async def success(args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        if not installation.team_id or not installation.user_id:
            log.warning(
                "org-wide install refused", extra={"enterprise": installation.enterprise_id}
            )
            if store is not None:
                with contextlib.suppress(Exception):  # what was stored is useless: drop it
                    await store.async_delete_installation(
                        enterprise_id=installation.enterprise_id, team_id=None
                    )
            return BoltResponse(status=400, body=ORG_WIDE_INSTALL)
        try:
            await people.installed(
                deps, installation.team_id, installation.team_name, installation.user_id,
                installation.bot_token,
            )  # fmt: skip
        except BotError as exc:
            log.warning("installer not recorded as owner", extra={"error": exc.message})
            return BoltResponse(status=503, body=OWNER_NOT_RECORDED)
        return await args.default.success(args)

    return success


async def _install_failed(args: AsyncFailureArgs) -> BoltResponse:
    return await args.default.failure(args)


class TrackedLazyRunner(AsyncLazyListenerRunner):
    """Bolt's asyncio lazy runner, keeping a reference to each task so none is garbage
    collected mid-flight and shutdown can wait for work already acknowledged to Slack."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.tasks: set[asyncio.Task[Any]] = set()

    def start(self, function: Any, request: AsyncBoltRequest) -> None:
        task = asyncio.ensure_future(
            to_runnable_function(internal_func=function, logger=self.logger, request=request)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self, timeout: float = LAZY_DRAIN_S) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)


def installation_store(settings: BotSettings, engine: AsyncEngine) -> InstallationStore | None:
    """OAuth mode's store, its credentials sealed with the data key (CLOUDAUDIT_DATA_KEY, or
    the embedded key file, generated here at the first start that needs it)."""
    if not settings.client_id:
        return None
    return InstallationStore(
        sealer=TokenSealer.for_settings(settings), client_id=settings.client_id, engine=engine
    )


def build_bolt_app(
    deps: Deps, actors: ActorDirectory, store: InstallationStore | None, engine: AsyncEngine
) -> AsyncApp:
    settings = deps.settings
    mode = settings.mode
    # In single-workspace modes Bolt takes the token from the client it is given.
    client = deps.slack.new_client(
        None if mode is SlackMode.HTTP_OAUTH else settings.reveal(settings.bot_token)
    )
    kwargs: dict[str, Any] = {
        "name": "cloudaudit",
        "client": client,
        "signing_secret": settings.reveal(settings.signing_secret) or "",
        "process_before_response": False,
        "request_verification_enabled": mode is not SlackMode.SOCKET,
        "user_facing_authorize_error_message": NOT_INSTALLED,
    }
    if mode is SlackMode.HTTP_OAUTH:
        assert store is not None
        kwargs["installation_store"] = store
        kwargs["authorize"] = AsyncInstallationStoreAuthorize(
            installation_store=store,
            client_id=settings.client_id,
            client_secret=settings.reveal(settings.client_secret),
            logger=log,
            cache_enabled=True,
            bot_only=True,
            client=client,
        )
        kwargs["oauth_settings"] = AsyncOAuthSettings(
            client_id=settings.client_id,
            client_secret=settings.reveal(settings.client_secret),
            scopes=settings.scopes.split(","),
            redirect_uri=settings.redirect_uri,
            authorization_url=settings.authorize_url,
            installation_store=store,
            installation_store_bot_only=True,
            state_store=AsyncSQLAlchemyOAuthStateStore(
                expiration_seconds=settings.state_expiration_s,
                engine=engine,
                table_name=SLACK_OAUTH_STATES,
            ),
            state_expiration_seconds=settings.state_expiration_s,
            callback_options=AsyncCallbackOptions(
                success=_installed(deps, store), failure=_install_failed
            ),
        )
    app = AsyncApp(**kwargs)
    app.listener_runner.lazy_listener_runner = TrackedLazyRunner(app.logger)
    events.register(app, deps)
    commands.register(app, deps, actors)
    interactive.register(app, deps, actors)
    if mode is SlackMode.HTTP_OAUTH:
        app.enable_token_revocation_listeners()
    return app


class SlackEndpoint:
    """The bot's Slack-facing aiohttp server (BOT_HTTP_PORT) or its Socket Mode connection."""

    def __init__(self, app: AsyncApp, settings: BotSettings) -> None:
        self.app = app
        self.settings = settings
        self.port: int | None = None
        self.ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._socket: Any = None

    def web_app(self) -> web.Application:
        web_app = web.Application(client_max_size=1024 * 1024)
        web_app.router.add_post(EVENTS_PATH, self._events)
        flow = self.app.oauth_flow
        if flow is not None:
            web_app.router.add_get(flow.install_path, self._install)
            web_app.router.add_get(flow.redirect_uri_path, self._oauth_redirect)
        return web_app

    async def _events(self, request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError:
            # Bolt parses the body before it checks the signature: a body that is not JSON or a
            # form is refused here, for anyone, without a traceback in the error log.
            return web.Response(status=400, text="request body is neither a form nor JSON")
        bolt_response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def _install(self, request: web.Request) -> web.Response:
        assert self.app.oauth_flow is not None
        response = await self.app.oauth_flow.handle_installation(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _oauth_redirect(self, request: web.Request) -> web.Response:
        assert self.app.oauth_flow is not None
        response = await self.app.oauth_flow.handle_callback(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def serve(self) -> None:
        """Run until cancelled (a runtime background loop)."""
        try:
            if self.settings.mode is SlackMode.SOCKET:
                await self._connect_socket()
            else:
                await self._listen()
            self.ready.set()
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def _listen(self) -> None:
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.http_port
        log.info(
            "slack endpoint listening",
            extra={"port": self.port, "path": EVENTS_PATH, "mode": self.settings.mode.value},
        )

    async def _connect_socket(self) -> None:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        self._socket = AsyncSocketModeHandler(
            self.app, self.settings.reveal(self.settings.app_token)
        )
        await self._socket.connect_async()
        log.info("slack socket mode connected")

    async def close(self) -> None:
        runner = self.app.listener_runner.lazy_listener_runner
        if isinstance(runner, TrackedLazyRunner):
            await runner.drain()
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
