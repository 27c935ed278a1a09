"""Talk to the bot the way Slack does: signed slash commands, button presses, modal submissions
and events over HTTP. Used by `cloudaudit slack-console`, the tests and the ack benchmark."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from cloudaudit.bot.localslack import DEFAULT_TEAM, LocalSlack, Message, View
from cloudaudit.common.clock import utcnow


@dataclass
class SlackResponse:
    status: int
    text: str
    elapsed_s: float

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class ButtonNotFound(LookupError):
    pass


def find_element(blocks: list[dict[str, Any]], wanted: str) -> tuple[str | None, dict[str, Any]]:
    """A button or menu by action_id or visible label: (block_id, element)."""
    for block in blocks:
        candidates = list(block.get("elements") or [])
        if block.get("accessory"):
            candidates.append(block["accessory"])
        for element in candidates:
            if element.get("type") not in ("button", "static_select", "overflow"):
                continue
            label = (element.get("text") or {}).get("text") or ""
            if wanted in (element.get("action_id"), label):
                return block.get("block_id"), element
    raise ButtonNotFound(f"no button or menu {wanted!r} in the message")


class SlackDriver:
    """Signs every request with the app's signing secret, exactly as Slack does (v0 HMAC)."""

    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        local: LocalSlack,
        team_id: str = DEFAULT_TEAM,
        team_domain: str = "cloudaudit-local",
    ) -> None:
        self.events_url = events_url
        self.verifier = SignatureVerifier(signing_secret)
        self.local = local
        self.team_id = team_id
        self.team_domain = team_domain
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SlackDriver:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _next(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    async def send(
        self,
        body: str,
        content_type: str,
        *,
        signed: bool = True,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SlackResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        # Transport, not business time: Bolt checks the signature's age against the real clock.
        real_now = int(time.time())  # noqa: TID251
        stamp = str(timestamp if timestamp is not None else real_now)
        all_headers = {"Content-Type": content_type, **(headers or {})}
        if signed:
            all_headers["X-Slack-Request-Timestamp"] = stamp
            all_headers["X-Slack-Signature"] = signature or self.verifier.generate_signature(
                timestamp=stamp, body=body
            )
        started = time.perf_counter()
        async with self._session.post(
            self.events_url, data=body.encode("utf-8"), headers=all_headers
        ) as response:
            text = await response.text()
            return SlackResponse(response.status, text, time.perf_counter() - started)

    async def _form(self, fields: dict[str, str], **options: Any) -> SlackResponse:
        return await self.send(urlencode(fields), "application/x-www-form-urlencoded", **options)

    # -- what people do in Slack ----------------------------------------------------------------
    def command_body(self, text: str, user: str, channel: str) -> dict[str, str]:
        return {
            "token": "deprecated-verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": "/cloudaudit",
            "text": text,
            "api_app_id": "ACLOUDAUDIT",
            "trigger_id": self._next("trigger-"),
            "response_url": self.local.response_url(channel, user),
        }

    async def command(
        self, text: str, user: str = "UOWNER", channel: str = "CALERTS", **options: Any
    ) -> SlackResponse:
        return await self._form(self.command_body(text, user, channel), **options)

    async def press(
        self, message: Message, wanted: str, user: str = "UOWNER", option_value: str | None = None
    ) -> SlackResponse:
        """Press a button (by label or action_id) or choose a menu option in a message."""
        block_id, element = find_element(message.blocks, wanted)
        action: dict[str, Any] = {
            "action_id": element["action_id"],
            "block_id": block_id,
            "type": element["type"],
            "action_ts": f"{utcnow().timestamp():.6f}",
        }
        if element["type"] == "button":
            action["value"] = element.get("value", "")
            action["text"] = element["text"]
        else:
            options = element.get("options") or []
            chosen = next(
                (
                    o
                    for o in options
                    if o["value"] == option_value or o["text"]["text"] == option_value
                ),
                None,
            )
            if chosen is None:
                raise ButtonNotFound(f"no option {option_value!r} in {wanted!r}")
            action["selected_option"] = chosen
        payload = {
            "type": "block_actions",
            "api_app_id": "ACLOUDAUDIT",
            "token": "deprecated",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": {"id": user, "username": user.lower(), "team_id": self.team_id},
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": message.ephemeral_for is not None,
            },
            "channel": {"id": message.channel},
            "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
            "trigger_id": self._next("trigger-"),
            "response_url": self.local.response_url(message.channel, user, message.ts),
            "actions": [action],
        }
        return await self._form({"payload": json.dumps(payload)})

    async def submit(
        self, view: View, values: dict[str, str | None], user: str = "UOWNER"
    ) -> SlackResponse:
        """Submit a modal with text (or number) inputs filled in, by input block_id."""
        state: dict[str, dict[str, Any]] = {}
        for block in view.view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block["element"]
            value = values.get(block["block_id"])
            state[block["block_id"]] = {
                element["action_id"]: {"type": element["type"], "value": value}
            }
        payload = {
            "type": "view_submission",
            "api_app_id": "ACLOUDAUDIT",
            "token": "deprecated",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": {"id": user, "username": user.lower(), "team_id": self.team_id},
            "trigger_id": self._next("trigger-"),
            "view": {**view.view, "state": {"values": state}},
        }
        return await self._form({"payload": json.dumps(payload)})

    async def event(
        self, event: dict[str, Any], event_id: str | None = None, retry_num: int | None = None
    ) -> SlackResponse:
        body = {
            "token": "deprecated",
            "team_id": self.team_id,
            "api_app_id": "ACLOUDAUDIT",
            "type": "event_callback",
            "event_id": event_id or self._next("Ev"),
            "event_time": int(utcnow().timestamp()),
            "event": event,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.send(json.dumps(body), "application/json", headers=headers)
