"""The Slack console: the real bot (same Bolt app, same bus consumers) in this process, a local
Slack Web API behind it, and a terminal in front that sends signed requests like Slack does."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cloudaudit.bot.console.render import RULE, Control, render_blocks
from cloudaudit.bot.driver import SlackDriver
from cloudaudit.bot.entrypoints.app import BOT_KEY, BotService
from cloudaudit.bot.entrypoints.slack.app import TrackedLazyRunner
from cloudaudit.bot.localslack import DEFAULT_TOKEN, LocalSlack, Message, View
from cloudaudit.bot.service import people
from cloudaudit.bot.settings import BotSettings
from cloudaudit.common.runtime import Endpoints, ServiceRuntime, build_runtime
from cloudaudit.common.service import discover_services
from cloudaudit.common.settings import CommonSettings

CONSOLE_USER = "UCONSOLE"
CONSOLE_CHANNEL = "CCONSOLE"
SETTLE_TIMEOUT_S = 30.0
MAX_FORM_TRIES = 3

Ask = Callable[[str, str], Awaitable[str | None]]  # (block_id, prompt) -> answer


@dataclass
class _Pressable:
    control: Control
    message: Message | None


class ConsoleSession:
    def __init__(
        self,
        settings: CommonSettings,
        endpoints: Endpoints,
        files_dir: Path,
        ask: Ask,
        user: str = CONSOLE_USER,
        channel: str = CONSOLE_CHANNEL,
        time_zone: str = "UTC",
        show: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        # Where a form is shown before its questions (a person at a terminal must read the
        # ExternalId before pasting the role ARN); None: it is part of what the step returns.
        self.show = show
        self.endpoints = endpoints
        self.files_dir = files_dir
        self.ask = ask
        self.user = user
        self.channel = channel
        self.time_zone = time_zone
        self.slack = LocalSlack(files_dir=files_dir)
        self.runtime: ServiceRuntime | None = None
        self.driver: SlackDriver | None = None
        self._controls: dict[int, _Pressable] = {}
        self._next_number = 1
        self._seen_messages = 0
        self._seen_edits: dict[tuple[str, str], int] = {}
        self._seen_views = 0
        self._seen_files: set[str] = set()
        # One thing at a time on screen: a typed line's results, or alerts arriving meanwhile.
        self._screen = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        api_url = await self.slack.start()
        self.slack.set_user(self.user, name="Console User", tz=self.time_zone)
        signing_secret = secrets.token_hex(16)
        bot_settings = BotSettings(
            **{
                **self.settings.model_dump(),
                "signing_secret": signing_secret,
                "bot_token": DEFAULT_TOKEN,
                "app_token": None,
                "client_id": None,
                "client_secret": None,
                "api_url": api_url,
                "http_port": 0,
                "http_host": "127.0.0.1",
            }
        )
        self.runtime = build_runtime(
            discover_services()["bot"], bot_settings, self.endpoints, http_port=0
        )
        await self.runtime.start()
        service = self.service
        assert service.endpoint is not None
        await asyncio.wait_for(service.endpoint.ready.wait(), 15)
        self.driver = SlackDriver(
            f"http://127.0.0.1:{service.endpoint.port}/slack/events", signing_secret, self.slack
        )
        # The console is its own Slack workspace, set up by the person at the terminal: like an
        # OAuth installer, they own its team (nobody owns a workspace by typing first).
        await people.installed(
            service.deps, self.driver.team_id, "CloudAudit Local", self.user, DEFAULT_TOKEN
        )

    async def stop(self) -> None:
        if self.driver is not None:
            await self.driver.close()
        if self.runtime is not None:
            await self.runtime.stop()
        await self.slack.stop()

    @property
    def service(self) -> BotService:
        assert self.runtime is not None
        return self.runtime.http[BOT_KEY]

    async def settle(self) -> None:
        """Wait until the bot finished the work it acknowledged (its lazy listeners)."""
        app = self.service.app
        assert app is not None
        runner = app.listener_runner.lazy_listener_runner
        if isinstance(runner, TrackedLazyRunner):
            await runner.drain(SETTLE_TIMEOUT_S)

    # -- input ----------------------------------------------------------------------------------
    async def run_line(self, line: str) -> str:
        """One line typed at the prompt; returns what appeared in Slack as a result."""
        async with self._screen:
            return await self._run_line(line)

    async def arrivals(self) -> str:
        """What arrived on its own (alerts, digests) while nobody was typing."""
        async with self._screen:
            await self.settle()
            return await self._poll()

    async def poll(self) -> str:
        async with self._screen:
            return await self._poll()

    async def _run_line(self, line: str) -> str:
        assert self.driver is not None
        line = line.strip()
        if not line:
            return ""
        if line.isdigit():
            return await self._press(int(line))
        if line.startswith("/"):
            command, _, text = line.partition(" ")
            if command != "/cloudaudit":
                return "Only /cloudaudit is installed here. Try /cloudaudit help"
            response = await self.driver.command(text, user=self.user, channel=self.channel)
            shown = self._ack(response.text)
            await self.settle()
            return "\n".join(part for part in (shown, await self._poll()) if part)
        return "Type /cloudaudit help, a button number, or quit."

    def _ack(self, body: str) -> str:
        """A command's immediate answer (help is answered in the acknowledgement itself)."""
        if not body:
            return ""
        try:
            payload = json.loads(body)
        except ValueError:
            return body
        return render_blocks(payload.get("blocks") or [], self._number) or str(payload.get("text"))

    async def _press(self, number: int) -> str:
        assert self.driver is not None
        pressable = self._controls.get(number)
        if pressable is None:
            return f"There is no button [{number}] on screen."
        control = pressable.control
        if control.url:
            return f"Open {control.url} in a browser."
        assert pressable.message is not None
        message = replace(pressable.message, blocks=[control.block])
        if control.option is not None:
            await self.driver.press(
                message,
                control.element.get("action_id", ""),
                user=self.user,
                option_value=control.option,
            )
        else:
            await self.driver.press(message, control.label, user=self.user)
        await self.settle()
        return await self._poll()

    # -- output ---------------------------------------------------------------------------------
    def _number(self, control: Control, message: Message | None = None) -> int:
        number = self._next_number
        self._next_number += 1
        self._controls[number] = _Pressable(control, message)
        return number

    def _render_message(self, message: Message, prefix: str) -> str:
        body = render_blocks(message.blocks, lambda c: self._number(c, message), indent="  ")
        return f"{prefix}\n{body or '  ' + message.text}"

    async def _poll(self) -> str:
        """Everything new in Slack since the last poll: messages, edits, files, modals."""
        out: list[str] = []
        for message in self.slack.messages[self._seen_messages :]:
            out.append(self._describe(message))
            self._seen_edits[(message.channel, message.ts)] = message.edits
        self._seen_messages = len(self.slack.messages)
        for message in self.slack.messages:
            key = (message.channel, message.ts)
            if message.edits > self._seen_edits.get(key, 0):
                self._seen_edits[key] = message.edits
                out.append(self._render_message(message, f"✎ updated in #{message.channel}"))
        for uploaded in self.slack.files.values():
            if uploaded.saved_to and uploaded.file_id not in self._seen_files:
                self._seen_files.add(uploaded.file_id)
                out.append(f"📎 {uploaded.title}: chart saved to {uploaded.saved_to}")
        new_views = self.slack.views[self._seen_views :]
        self._seen_views = len(self.slack.views)
        for view in new_views:
            out.append(await self._fill_in(view))
        if new_views:
            out.append(await self._poll())  # what submitting the form led to
        return f"\n{RULE}\n".join(part for part in out if part)

    def _describe(self, message: Message) -> str:
        if message.via.startswith("file:"):
            return ""  # shown with the saved file
        where = f"#{message.channel}"
        if message.channel.startswith("D"):
            where = "DM from CloudAudit"
        if message.ephemeral_for:
            where += " (only you can see this)"
        if message.thread_ts:
            where += " ↳ in thread"
        return self._render_message(message, where)

    async def _fill_in(self, view: View) -> str:
        """A modal opened: ask for each input, submit, show the form's errors and retry."""
        assert self.driver is not None
        spec = view.view
        shown = [
            f"▣ {spec.get('title', {}).get('text', 'Form')}",
            render_blocks(spec.get("blocks") or [], lambda c: self._number(c), "  "),
        ]
        if self.show is not None:
            self.show("\n".join(shown))  # before the first question, not after the last
            shown = []
        errors: dict[str, str] = {}
        for _ in range(MAX_FORM_TRIES):
            values: dict[str, str | None] = {}
            for block in spec.get("blocks") or []:
                if block.get("type") != "input":
                    continue
                label = block["label"]["text"]
                problem = errors.get(block["block_id"])
                filled = (block.get("element") or {}).get("initial_value")
                prompt = f"{label}{' [' + filled + ']' if filled else ''}"
                prompt += f" ({problem})" if problem else ""
                answer = await self.ask(block["block_id"], prompt)
                values[block["block_id"]] = (
                    answer if answer is not None else filled
                )  # Enter keeps it
            response = await self.driver.submit(view, values, user=self.user)
            body: dict[str, Any] = response.json() or {}
            if body.get("response_action") != "errors":
                await self.settle()
                shown.append("(submitted)")
                return "\n".join(shown)
            errors = body.get("errors") or {}
            shown.append("  ! " + "; ".join(errors.values()))
        shown.append("(cancelled after too many tries)")
        return "\n".join(shown)
