"""Wire the bot service: settings, Slack endpoint (HTTP or Socket Mode), bus consumers, digests."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from cloudaudit.bot.adapters.orm import outbox
from cloudaudit.bot.adapters.platform import Platform
from cloudaudit.bot.adapters.slack_api import SlackGateway
from cloudaudit.bot.adapters.unit_of_work import BotUnitOfWork
from cloudaudit.bot.entrypoints import bus
from cloudaudit.bot.entrypoints.slack.app import SlackEndpoint, build_bolt_app, installation_store
from cloudaudit.bot.service.actors import ActorDirectory
from cloudaudit.bot.service.deps import Deps
from cloudaudit.bot.service.digests import send_due_digests
from cloudaudit.bot.settings import BotSettings, SlackMode
from cloudaudit.common.actors import ActorVerifier
from cloudaudit.common.clock import utcnow
from cloudaudit.common.deps import service_settings
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.runtime import ServiceRuntime

log = logging.getLogger(__name__)

SLACK_RECEIPTS_KEPT = timedelta(days=1)


@dataclass
class BotService:
    """The running bot's parts (tests and the console reach them through BOT_KEY)."""

    deps: Deps
    app: AsyncApp | None
    endpoint: SlackEndpoint | None


BOT_KEY = web.AppKey("cloudaudit_bot", BotService)


def build(runtime: ServiceRuntime) -> None:
    settings = service_settings(runtime.settings, BotSettings)
    settings.register_secrets()
    store = installation_store(settings, runtime.engine)

    async def bot_token(slack_team_id: str) -> str | None:
        if store is None:
            return None
        bot = await store.async_find_bot(enterprise_id=None, team_id=slack_team_id)
        return bot.bot_token if bot else None

    slack = SlackGateway(settings, bot_token if store is not None else None)
    deps = Deps(
        settings=settings,
        platform=Platform(runtime.broker, runtime.names),
        uow=lambda: BotUnitOfWork(runtime.sessions, outbox, runtime.publish_outboxed),
        slack=slack,
        verifier=ActorVerifier.for_service(settings, Audience.BOT),
    )
    runtime.use_outbox(outbox)
    runtime.forget_deleted_teams(outbox.metadata)  # every table of the schema with a team_id

    async def start_slack_session() -> None:
        await slack.start()

    runtime.background(start_slack_session)
    runtime.on_stop(slack.stop)
    if settings.mode is SlackMode.DISABLED:
        runtime.notes.append(
            "Slack is not configured (SLACK_SIGNING_SECRET + SLACK_BOT_TOKEN, "
            "or SLACK_CLIENT_ID/SECRET, or SLACK_APP_TOKEN); alerts wait until "
            "it is. Try `cloudaudit slack-console`."
        )
        runtime.http[BOT_KEY] = BotService(deps, None, None)
        return
    app = build_bolt_app(deps, ActorDirectory(deps), store, runtime.engine)
    endpoint = SlackEndpoint(app, settings)
    runtime.http[BOT_KEY] = BotService(deps, app, endpoint)
    runtime.background(endpoint.serve)
    bus.register(runtime, deps)

    async def digests_and_housekeeping() -> None:
        while True:
            try:
                await send_due_digests(deps, utcnow())
                async with deps.uow() as uow:
                    await uow.repo.forget_receipts(utcnow() - SLACK_RECEIPTS_KEPT)
                    await uow.commit()
            except Exception:
                log.exception("digest round failed; next round retries")
            await asyncio.sleep(settings.digest_check_interval_s)

    runtime.background(digests_and_housekeeping)
    runtime.notes.append(f"slack mode {settings.mode.value}")
