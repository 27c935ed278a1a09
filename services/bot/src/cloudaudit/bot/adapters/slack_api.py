"""The Slack Web API: a client per workspace, 429s waited out, errors people can act on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from cloudaudit.bot.domain.errors import BotError
from cloudaudit.bot.settings import BotSettings
from cloudaudit.common.metrics import SLACK_API_ERRORS

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3
SLACK_TIMEOUT_S = 10
# Errors that mean "this channel can't take the bot's messages any more": the bot was removed,
# the channel was archived or deleted. The alert is kept and the owner is told by DM.
CHANNEL_GONE = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "access_denied"}
)
# conversations.history / .replies page size: Slack recommends at most 200, and apps outside the
# Marketplace get fewer per page; the cursor walks the rest.
HISTORY_PAGE = 200
# The history scope a bot token needs, by the first letter of the conversation id (C public or
# older private channels, G private channels, D direct messages).
HISTORY_SCOPES = {"C": "channels:history", "G": "groups:history", "D": "im:history"}


class ChannelUnavailable(BotError):
    def __init__(self, channel_id: str, error: str) -> None:
        super().__init__(f"I can't post in <#{channel_id}> ({error}).")
        self.channel_id = channel_id
        self.error = error


class SlackUnavailable(BotError):
    """Slack refused or failed for a reason other than the channel (token, rate limit, outage)."""


class NotInstalled(BotError):
    """No bot token for this workspace: CloudAudit is not (or no longer) installed there."""


class HistoryUnavailable(BotError):
    """Slack won't show the bot a conversation's history (a missing scope, or not a member)."""

    def __init__(self, channel_id: str, error: str, scope: str | None) -> None:
        fix = (
            f"add the {scope} scope to the Slack app and reinstall it"
            if scope
            else "invite @CloudAudit to the channel"
        )
        super().__init__(f"I can't read the history of <#{channel_id}> ({error}): {fix}.")
        self.channel_id = channel_id
        self.error = error
        self.scope = scope


class RetryAfterHandler(AsyncRetryHandler):
    """Retry a 429 after exactly the Retry-After Slack asked for (bounded)."""

    def __init__(self, max_retry_count: int = RATE_LIMIT_RETRIES, max_wait_s: float = 60.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        return self._retry_after(response) <= self.max_wait_s

    @staticmethod
    def _retry_after(response: HttpResponse) -> float:
        for name, values in response.headers.items():
            if name.lower() == "retry-after" and values:
                try:
                    return max(0.0, float(values[0]))
                except ValueError:
                    break
        return 1.0

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        assert response is not None
        wait = self._retry_after(response)
        log.warning(
            "slack rate limited; waiting",
            extra={"retry_after_s": wait, "attempt": state.current_attempt + 1},
        )
        state.next_attempt_requested = True
        await asyncio.sleep(wait)
        state.increment_current_attempt()


TokenLookup = Callable[[str], Awaitable[str | None]]


@dataclass
class PostedMessage:
    channel_id: str
    ts: str


class SlackGateway:
    """Builds Web API clients (base URL from settings) and wraps the calls the bot makes."""

    def __init__(self, settings: BotSettings, token_lookup: TokenLookup | None = None) -> None:
        self.settings = settings
        self._token_lookup = token_lookup
        self._session: aiohttp.ClientSession | None = None

    def new_client(
        self, token: str | None = None, retry_connection_errors: bool = True
    ) -> AsyncWebClient:
        client = AsyncWebClient(
            token=token,
            base_url=self.settings.api_url,
            timeout=SLACK_TIMEOUT_S,
            session=self._session,
        )
        client.retry_handlers.append(RetryAfterHandler(max_wait_s=self.settings.max_retry_after_s))
        if retry_connection_errors:
            client.retry_handlers.append(AsyncConnectionErrorRetryHandler(max_retry_count=2))
        return client

    async def start(self) -> None:
        """One pooled HTTP session for every Web API call (created inside the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT_S)
            )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    async def client_for(self, slack_team_id: str) -> AsyncWebClient:
        token = self.settings.reveal(self.settings.bot_token)
        if self._token_lookup is not None:
            token = await self._token_lookup(slack_team_id) or token
        if not token:
            raise NotInstalled(
                "CloudAudit is not installed in this Slack workspace any more; "
                "reinstall it from the install page."
            )
        return self.new_client(token)

    # -- calls ----------------------------------------------------------------------------------
    @staticmethod
    def _error(exc: SlackApiError) -> str:
        error = str(exc.response.get("error") or exc.response.status_code)
        method = str(getattr(exc.response, "api_url", "") or "").rstrip("/").rsplit("/", 1)[-1]
        SLACK_API_ERRORS.labels(method or "unknown", error).inc()
        return error

    async def post(
        self,
        client: AsyncWebClient,
        channel_id: str,
        text: str,
        blocks: list[dict[str, Any]],
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> PostedMessage:
        """chat.postMessage. With `metadata` (a post keyed by an event), a connection that fails
        mid-request is not retried here: Slack may have posted it, and the caller's redelivery
        looks for the metadata in the channel before posting again."""
        if metadata is not None:
            client = self.new_client(client.token, retry_connection_errors=False)
        try:
            response = await client.chat_postMessage(
                channel=channel_id,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                metadata=metadata,
            )
        except SlackApiError as exc:
            raise self._translate(exc, channel_id) from None
        return PostedMessage(channel_id=str(response["channel"]), ts=str(response["ts"]))

    async def find_by_metadata(
        self,
        client: AsyncWebClient,
        channel_id: str,
        event_type: str,
        payload_key: str,
        payload_value: str,
        oldest: str,
        thread_ts: str | None = None,
    ) -> str | None:
        """The ts of the message in `channel_id` (in the thread of `thread_ts` if given) posted
        after `oldest` whose metadata is `event_type` with `payload_key` = `payload_value`."""
        cursor: str | None = None
        while True:
            try:
                if thread_ts is None:
                    response = await client.conversations_history(
                        channel=channel_id,
                        oldest=oldest,
                        include_all_metadata=True,
                        limit=HISTORY_PAGE,
                        cursor=cursor,
                    )
                else:
                    response = await client.conversations_replies(
                        channel=channel_id,
                        ts=thread_ts,
                        oldest=oldest,
                        include_all_metadata=True,
                        limit=HISTORY_PAGE,
                        cursor=cursor,
                    )
            except SlackApiError as exc:
                raise self._history_error(exc, channel_id) from None
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if (
                    metadata.get("event_type") == event_type
                    and str(payload.get(payload_key)) == payload_value
                ):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    async def update(
        self,
        client: AsyncWebClient,
        channel_id: str,
        ts: str,
        text: str,
        blocks: list[dict[str, Any]],
    ) -> None:
        try:
            await client.chat_update(channel=channel_id, ts=ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            raise self._translate(exc, channel_id) from None

    async def ephemeral(
        self,
        client: AsyncWebClient,
        channel_id: str,
        user_id: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        try:
            await client.chat_postEphemeral(
                channel=channel_id, user=user_id, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            raise self._translate(exc, channel_id) from None

    async def open_dm(self, client: AsyncWebClient, user_id: str) -> str:
        try:
            response = await client.conversations_open(users=user_id)
        except SlackApiError as exc:
            raise SlackUnavailable(
                f"I could not open a DM with <@{user_id}> ({self._error(exc)})."
            ) from None
        return str(response["channel"]["id"])

    async def upload_png(
        self,
        client: AsyncWebClient,
        channel_id: str,
        png: bytes,
        filename: str,
        title: str,
        comment: str | None = None,
    ) -> str:
        """files.getUploadURLExternal + upload + files.completeUploadExternal (files_upload_v2)."""
        try:
            response = await client.files_upload_v2(
                channel=channel_id,
                content=png,
                filename=filename,
                title=title,
                initial_comment=comment,
                alt_txt=title,
            )
        except SlackApiError as exc:
            raise self._translate(exc, channel_id) from None
        return str(response["file"]["id"])

    async def user_info(self, client: AsyncWebClient, user_id: str) -> dict[str, Any]:
        """Name, email and time zone; empty when Slack won't say (missing scope, deleted user)."""
        try:
            response = await client.users_info(user=user_id)
        except SlackApiError as exc:
            log.info("users.info unavailable", extra={"error": self._error(exc)})
            return {}
        return dict(response.get("user") or {})

    def _history_error(self, exc: SlackApiError, channel_id: str) -> BotError:
        error = self._error(exc)
        if error == "missing_scope":
            needed = exc.response.get("needed") or HISTORY_SCOPES.get(channel_id[:1])
            return HistoryUnavailable(channel_id, error, str(needed or "channels:history"))
        if error in CHANNEL_GONE:
            return HistoryUnavailable(channel_id, error, None)
        return SlackUnavailable(f"Slack did not show the channel history ({error}).")

    def _translate(self, exc: SlackApiError, channel_id: str) -> BotError:
        error = self._error(exc)
        if error in CHANNEL_GONE:
            return ChannelUnavailable(channel_id, error)
        return SlackUnavailable(f"Slack refused the message ({error}).")
