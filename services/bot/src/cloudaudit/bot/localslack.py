"""A local Slack Web API: what `cloudaudit slack-console` talks to, and what tests assert on.

It answers the Web API methods the bot calls (chat, views, files external upload, users,
conversations incl. history and replies with message metadata, auth, oauth.v2.access) and the
response_url webhooks, records every call, keeps the messages as a user would see them, checks
the history scopes like Slack, and can be told to answer an error or a 429, or to hold an answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from cloudaudit.common.clock import utcnow

DEFAULT_TEAM = "T0CLOUD"
DEFAULT_TOKEN = "xoxb-local-console"  # noqa: S105 - a token only this local server accepts
BOT_USER = "UBOTCLOUD"
BOT_ID = "BCLOUDAUDIT"
# What the app manifest (deploy/slack/manifest.yaml) asks for; a workspace can be given fewer.
APP_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "chat:write.public",
        "files:write",
        "im:write",
        "users:read",
        "users:read.email",
        "channels:read",
        "groups:read",
        "channels:history",
        "groups:history",
    }
)
# The scope reading a conversation needs, by the first letter of its id (as Slack answers
# missing_scope with `needed`).
HISTORY_SCOPES = {"C": "channels:history", "G": "groups:history", "D": "im:history"}
HISTORY_MAX_LIMIT = 999


@dataclass
class ApiCall:
    method: str
    args: dict[str, Any]
    token: str | None


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    ephemeral_for: str | None = None  # user id when only that user sees it
    via: str = "chat.postMessage"
    edits: int = 0
    at: float = field(default_factory=time.perf_counter)  # when Slack received it
    metadata: dict[str, Any] | None = None  # chat.postMessage `metadata` (event_type, payload)

    def as_history(self, include_metadata: bool) -> dict[str, Any]:
        """The message as conversations.history / conversations.replies return it."""
        item: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER,
            "text": self.text,
            "ts": self.ts,
            "blocks": self.blocks,
        }
        if self.via == "chat.postMessage":
            item["bot_id"] = BOT_ID
        if self.thread_ts is not None:
            item["thread_ts"] = self.thread_ts
        if include_metadata and self.metadata is not None:
            item["metadata"] = self.metadata
        return item


@dataclass
class View:
    view_id: str
    user: str | None
    trigger_id: str | None
    view: dict[str, Any]


@dataclass
class UploadedFile:
    file_id: str
    filename: str
    length: int
    data: bytes = b""
    title: str | None = None
    channel: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    saved_to: Path | None = None


@dataclass
class _Scripted:
    error: str | None
    status: int
    retry_after: float | None


@dataclass
class Hold:
    """One held call: Slack has done the work (`reached`) and answers once `release()`d."""

    method: str
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class _ResponseTarget:
    channel: str
    user: str
    message_ts: str | None


@dataclass
class Workspace:
    team_id: str
    name: str
    token: str
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    scopes: set[str] = field(default_factory=lambda: set(APP_SCOPES))


class LocalSlack:
    """Run with `await start()`; `api_url` is what SLACK_API_URL should be set to."""

    def __init__(self, files_dir: Path | None = None) -> None:
        self.files_dir = files_dir
        self.calls: list[ApiCall] = []
        self.messages: list[Message] = []
        self.views: list[View] = []
        self.files: dict[str, UploadedFile] = {}
        self.workspaces: dict[str, Workspace] = {}
        self.removed_from: set[str] = set()
        self.oauth_codes: dict[str, dict[str, Any]] = {}
        self.activity = asyncio.Event()
        self._scripted: dict[str, deque[_Scripted]] = defaultdict(deque)
        self._responses: dict[str, _ResponseTarget] = {}
        self._last_ts_us = 0
        self._holds: dict[str, deque[Hold]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self.base_url = ""
        self.add_workspace(DEFAULT_TEAM, "CloudAudit Local", DEFAULT_TOKEN)

    # -- set-up -------------------------------------------------------------------------------
    def add_workspace(self, team_id: str, name: str, token: str) -> Workspace:
        workspace = Workspace(team_id, name, token)
        self.workspaces[team_id] = workspace
        return workspace

    def set_user(
        self,
        user_id: str,
        *,
        team_id: str = DEFAULT_TEAM,
        name: str | None = None,
        email: str | None = None,
        tz: str = "UTC",
        guest: bool = False,
        single_channel_guest: bool = False,
        home_team: str | None = None,
        stranger: bool = False,
    ) -> None:
        """A user as users.info shows them: a full member unless made a guest, or a Slack
        Connect user of another organisation (`home_team`, `stranger`)."""
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": home_team or team_id,
            "name": name or user_id.lower(),
            "tz": tz,
            "real_name": name or user_id,
            "is_restricted": guest or single_channel_guest,
            "is_ultra_restricted": single_channel_guest,
            "is_email_confirmed": email is not None,
            "profile": {
                "email": email,
                "display_name": name or user_id,
                "real_name": name or user_id,
            },
        }
        if stranger:
            user["is_stranger"] = True
        self.workspaces[team_id].users[user_id] = user

    def add_oauth_code(
        self, code: str, team_id: str, team_name: str, installer: str, bot_token: str
    ) -> None:
        self.oauth_codes[code] = {
            "team_id": team_id,
            "team_name": team_name,
            "installer": installer,
            "bot_token": bot_token,
        }

    def remove_bot_from(self, channel: str) -> None:
        self.removed_from.add(channel)

    def script(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` answer this error (or a 429 with Retry-After)."""
        for _ in range(times):
            self._scripted[method].append(_Scripted(error, status, retry_after))

    def hold(self, method: str) -> Hold:
        """The next call of `method` takes effect, then waits for `release()` before Slack
        answers: the caller can be stopped after Slack acted but before it heard back."""
        held = Hold(method)
        self._holds[method].append(held)
        return held

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        key = f"R{next(self._ids):06d}"
        self._responses[key] = _ResponseTarget(channel, user, message_ts)
        return f"{self.base_url}/response/{key}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # -- queries for tests and the console ----------------------------------------------------
    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def channel_messages(self, channel: str, thread_ts: str | None = None) -> list[Message]:
        return [
            m
            for m in self.messages
            if m.channel == channel and m.ephemeral_for is None and m.thread_ts == thread_ts
        ]

    def thread(self, channel: str, ts: str) -> list[Message]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts == ts]

    def ephemeral_for(self, user: str) -> list[Message]:
        return [m for m in self.messages if m.ephemeral_for == user]

    def message(self, channel: str, ts: str) -> Message | None:
        for m in self.messages:
            if m.channel == channel and m.ts == ts:
                return m
        return None

    # -- server -------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound}"
        return self.api_url

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _next_ts(self) -> str:
        """Like Slack: the Unix time it received the message, in microseconds, unique per
        workspace (strictly increasing here). Slack's clock and ours agree in production, so
        the stand-in follows our clock: a test that moves the date moves the ts too (the
        channel-history look-ups compare ts with posting times)."""
        now_us = max(int(utcnow().timestamp() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    def _touch(self) -> None:
        self.activity.set()

    @staticmethod
    def _decode(value: Any) -> Any:
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        body = await request.read()
        if body:
            ctype = request.headers.get("Content-Type", "")
            if ctype.startswith("application/json"):
                args.update(json.loads(body))
            elif ctype.startswith("application/x-www-form-urlencoded"):
                args.update(dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
            elif ctype.startswith("multipart/form-data"):
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
        return {k: self._decode(v) for k, v in args.items()}

    def _token(self, request: web.Request, args: dict[str, Any]) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:]
        token = args.pop("token", None)
        return str(token) if token else None

    def _workspace(self, token: str | None) -> Workspace | None:
        for workspace in self.workspaces.values():
            if token and workspace.token == token:
                return workspace
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = self._token(request, args)
        self.calls.append(ApiCall(method, args, token))
        self._touch()
        scripted = self._scripted[method].popleft() if self._scripted[method] else None
        if scripted is not None:
            headers = {}
            if scripted.retry_after is not None:
                headers["Retry-After"] = f"{scripted.retry_after:g}"
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers=headers
                )
            return web.json_response({"ok": False, "error": scripted.error}, status=scripted.status)
        if method == "apps.connections.open" and token and token.startswith("xapp-"):
            # Socket Mode: an app-level token asks for a WebSocket URL.
            ws_url = self.base_url.replace("http://", "ws://") + "/socket"
            return web.json_response({"ok": True, "url": ws_url})
        workspace = self._workspace(token)
        if method != "oauth.v2.access" and workspace is None:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        answer = await handler(args, workspace)
        held = self._holds[method].popleft() if self._holds[method] else None
        if held is not None:
            held.reached.set()
            self._touch()
            await held.released.wait()
        return web.json_response(answer)

    # -- Web API methods ------------------------------------------------------------------------
    async def _m_auth_test(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{ws.team_id.lower()}.slack.local/",
            "team": ws.name,
            "user": "cloudaudit",
            "team_id": ws.team_id,
            "user_id": BOT_USER,
            "bot_id": "BCLOUDAUDIT",
            "is_enterprise_install": False,
        }

    async def _m_chat_postMessage(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        channel = str(args.get("channel"))
        if channel in self.removed_from:
            return {"ok": False, "error": "not_in_channel"}
        metadata = args.get("metadata")
        if metadata is not None and not _valid_metadata(metadata):
            return {"ok": False, "error": "invalid_metadata_format"}
        message = Message(
            channel=channel,
            ts=self._next_ts(),
            text=str(args.get("text") or ""),
            blocks=list(args.get("blocks") or []),
            thread_ts=args.get("thread_ts"),
            metadata=metadata,
        )
        self.messages.append(message)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "message": message.as_history(include_metadata=True),
        }

    async def _m_chat_postEphemeral(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        channel = str(args.get("channel"))
        message = Message(
            channel=channel,
            ts=self._next_ts(),
            text=str(args.get("text") or ""),
            blocks=list(args.get("blocks") or []),
            ephemeral_for=str(args.get("user")),
            via="chat.postEphemeral",
        )
        self.messages.append(message)
        return {"ok": True, "message_ts": message.ts}

    async def _m_chat_update(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        message = self.message(str(args.get("channel")), str(args.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.text = str(args.get("text") or message.text)
        message.blocks = list(args.get("blocks") or [])
        message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}

    def _history_refusal(self, channel: str, ws: Workspace) -> dict[str, Any] | None:
        needed = HISTORY_SCOPES.get(channel[:1], "channels:history")
        if needed not in ws.scopes:
            return {
                "ok": False,
                "error": "missing_scope",
                "needed": needed,
                "provided": ",".join(sorted(ws.scopes)),
            }
        if channel in self.removed_from:
            return {"ok": False, "error": "not_in_channel"}
        return None

    @staticmethod
    def _page(messages: list[Message], args: dict[str, Any], newest_first: bool) -> dict[str, Any]:
        """oldest/latest (exclusive unless inclusive), limit and an opaque cursor, like Slack."""
        oldest = _ts_arg(args.get("oldest"), 0.0)
        latest = _ts_arg(args.get("latest"), float("inf"))
        inclusive = _flag(args.get("inclusive"))
        limit = min(int(args.get("limit") or 100), HISTORY_MAX_LIMIT)
        in_range = [
            m
            for m in messages
            if (oldest <= float(m.ts) if inclusive else oldest < float(m.ts))
            and (float(m.ts) <= latest if inclusive else float(m.ts) < latest)
        ]
        in_range.sort(key=lambda m: float(m.ts), reverse=newest_first)
        start = 0
        if args.get("cursor"):
            try:
                start = int(base64.b64decode(str(args["cursor"])).decode().removeprefix("next:"))
            except ValueError:
                return {"ok": False, "error": "invalid_cursor"}
        page = in_range[start : start + limit]
        more = start + limit < len(in_range)
        include = _flag(args.get("include_all_metadata"))
        answer: dict[str, Any] = {
            "ok": True,
            "messages": [m.as_history(include) for m in page],
            "has_more": more,
            "response_metadata": {
                "next_cursor": base64.b64encode(f"next:{start + limit}".encode()).decode()
                if more
                else ""
            },
        }
        return answer

    async def _m_conversations_history(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        """Top-level messages of a channel, newest first (thread replies are not included)."""
        channel = str(args.get("channel"))
        refusal = self._history_refusal(channel, ws)
        if refusal is not None:
            return refusal
        return self._page(self.channel_messages(channel), args, newest_first=True)

    async def _m_conversations_replies(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        """A thread, oldest first: the parent, then the replies in range."""
        channel = str(args.get("channel"))
        refusal = self._history_refusal(channel, ws)
        if refusal is not None:
            return refusal
        parent = self.message(channel, str(args.get("ts")))
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        answer = self._page(self.thread(channel, parent.ts), args, newest_first=False)
        if answer["ok"] and not args.get("cursor"):
            include = _flag(args.get("include_all_metadata"))
            answer["messages"].insert(0, parent.as_history(include))
        return answer

    async def _m_conversations_open(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        users = str(args.get("users") or "")
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0]}}

    async def _m_users_info(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        user_id = str(args.get("user"))
        if user_id not in ws.users:
            self.set_user(user_id, team_id=ws.team_id)
        return {"ok": True, "user": ws.users[user_id]}

    async def _m_views_open(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        view = dict(args.get("view") or {})
        view_id = f"V{next(self._ids):06d}"
        view["id"] = view_id
        self.views.append(View(view_id, None, args.get("trigger_id"), view))
        return {"ok": True, "view": view}

    async def _m_views_update(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        view = dict(args.get("view") or {})
        for existing in self.views:
            if existing.view_id == args.get("view_id"):
                view["id"] = existing.view_id
                existing.view = view
                return {"ok": True, "view": view}
        return {"ok": False, "error": "not_found"}

    async def _m_files_getUploadURLExternal(
        self, args: dict[str, Any], ws: Workspace
    ) -> dict[str, Any]:
        file_id = f"F{next(self._ids):06d}"
        self.files[file_id] = UploadedFile(
            file_id, str(args.get("filename")), int(args.get("length") or 0)
        )
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    async def _m_files_completeUploadExternal(
        self, args: dict[str, Any], ws: Workspace
    ) -> dict[str, Any]:
        channel = args.get("channel_id")
        if channel and channel in self.removed_from:
            return {"ok": False, "error": "not_in_channel"}
        done = []
        for item in args.get("files") or []:
            uploaded = self.files.get(item.get("id"))
            if uploaded is None or len(uploaded.data) != uploaded.length:
                return {"ok": False, "error": "file_not_found"}
            uploaded.title = item.get("title")
            uploaded.channel = channel
            uploaded.initial_comment = args.get("initial_comment")
            uploaded.thread_ts = args.get("thread_ts")
            if self.files_dir is not None:
                self.files_dir.mkdir(parents=True, exist_ok=True)
                uploaded.saved_to = self.files_dir / f"{uploaded.file_id}-{uploaded.filename}"
                uploaded.saved_to.write_bytes(uploaded.data)
            if channel:
                self.messages.append(
                    Message(
                        channel=str(channel),
                        ts=self._next_ts(),
                        text=str(args.get("initial_comment") or ""),
                        blocks=[],
                        thread_ts=args.get("thread_ts"),
                        via=f"file:{uploaded.file_id}",
                    )
                )
            done.append(
                {"id": uploaded.file_id, "title": uploaded.title, "name": uploaded.filename}
            )
        return {"ok": True, "files": done}

    async def _m_oauth_v2_access(
        self, args: dict[str, Any], ws: Workspace | None
    ) -> dict[str, Any]:
        grant = self.oauth_codes.pop(str(args.get("code")), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        workspace = self.workspaces.get(grant["team_id"]) or self.add_workspace(
            grant["team_id"], grant["team_name"], grant["bot_token"]
        )
        workspace.token = grant["bot_token"]
        return {
            "ok": True,
            "app_id": "ACLOUDAUDIT",
            "authed_user": {"id": grant["installer"]},
            "scope": ",".join(sorted(workspace.scopes)),
            "token_type": "bot",
            "access_token": grant["bot_token"],
            "bot_user_id": BOT_USER,
            "team": {"id": grant["team_id"], "name": grant["team_name"]},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    # -- Socket Mode --------------------------------------------------------------------------------
    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    async def socket_send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope (slash_commands, interactive, events_api) to the connected app."""
        envelope_id = f"E{next(self._ids):06d}"
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": True,
            }
        )
        return envelope_id

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": "ACLOUDAUDIT"},
            }
        )
        try:
            async for frame in socket:
                if frame.type is WSMsgType.TEXT:
                    data = json.loads(frame.data)
                    if "envelope_id" in data:  # the app's acknowledgement
                        self.socket_acks[data["envelope_id"]] = data.get("payload") or {}
                        self._touch()
        finally:
            self._sockets.remove(socket)
        return socket

    # -- file bytes and response_url webhooks ----------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        uploaded = self.files.get(request.match_info["file_id"])
        if uploaded is None:
            return web.Response(status=404, text="unknown upload")
        uploaded.data = await request.read()
        self.calls.append(
            ApiCall("upload", {"file_id": uploaded.file_id, "bytes": len(uploaded.data)}, None)
        )
        return web.Response(text=f"OK - {len(uploaded.data)}")

    async def _response(self, request: web.Request) -> web.Response:
        target = self._responses.get(request.match_info["key"])
        if target is None:
            return web.Response(status=404, text="no_such_response_url")
        payload = json.loads(await request.read() or b"{}")
        self.calls.append(ApiCall("response_url", payload, None))
        self._touch()
        if payload.get("delete_original") and target.message_ts:
            self.messages = [
                m
                for m in self.messages
                if not (m.channel == target.channel and m.ts == target.message_ts)
            ]
            return web.Response(text="ok")
        original = self.message(target.channel, target.message_ts) if target.message_ts else None
        if payload.get("replace_original") and original is not None:
            original.text = str(payload.get("text") or original.text)
            original.blocks = list(payload.get("blocks") or [])
            original.edits += 1
            return web.Response(text="ok")
        in_channel = payload.get("response_type") == "in_channel"
        self.messages.append(
            Message(
                channel=target.channel,
                ts=self._next_ts(),
                text=str(payload.get("text") or ""),
                blocks=list(payload.get("blocks") or []),
                ephemeral_for=None if in_channel else target.user,
                via="response_url",
                thread_ts=payload.get("thread_ts"),
            )
        )
        return web.Response(text="ok")


def _valid_metadata(metadata: Any) -> bool:
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and bool(metadata["event_type"])
        and isinstance(metadata.get("event_payload"), dict)
    )


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true"}


def _ts_arg(value: Any, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        return default
