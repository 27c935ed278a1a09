"""The tour's state: the console session it drives, the steps it recorded, and reading the
console's numbered buttons. Shared by the tour and its steps (tour.py, tour_decisions.py), so
neither imports the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import typer
from cloudaudit.demo.stack import ProductStack


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    output: str = ""


@dataclass
class Tour:
    stack: ProductStack
    session: Any
    answers: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    team_id: UUID | None = None
    transcript: list[str] = field(default_factory=list)
    rerun: bool = False

    async def ask(self, block_id: str, label: str) -> str | None:
        return self.answers.get(block_id)

    async def line(self, text: str) -> str:
        output = str(await self.session.run_line(text))
        self.transcript.append(output)
        return output

    async def poll(self) -> str:
        output = str(await self.session.poll())
        self.transcript.append(output)
        return output

    def seen(self) -> str:
        """Everything Slack showed so far (alerts arrive whenever they are ready)."""
        return "\n".join(self.transcript)

    def record(self, name: str, ok: bool, detail: str, output: str = "") -> None:
        self.steps.append(Step(name, ok, detail, output))
        mark = typer.style("✔" if ok else "✘", fg="green" if ok else "red", bold=True)
        typer.echo(f"{mark} {name}: {detail}")
        if output:
            # Whole: a cut step hid the fourth card and the Elastic IP recommendation, and the
            # reader could not tell that anything was missing.
            typer.echo("\n".join("    " + row for row in output.splitlines()))

    async def wait_for(
        self, check: Callable[[], Awaitable[str | None]], timeout: float
    ) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.5)
        return None


def button_number(text: str, label: str) -> int | None:
    for row in text.splitlines():
        if label in row and "[" in row:
            before = row[: row.index(label)]
            if "[" in before:
                digits = before[before.rindex("[") + 1 :].split("]")[0]
                if digits.isdigit():
                    return int(digits)
    return None
