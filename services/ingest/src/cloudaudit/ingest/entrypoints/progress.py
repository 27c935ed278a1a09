"""A progress bar for imports on a terminal: bytes read, rows/s, ETA."""

from __future__ import annotations

import time
from typing import Any, Self

from cloudaudit.ingest.service.imports import ImportProgress
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        rows = task.fields.get("rows", 0)
        elapsed = task.elapsed or 0.0
        rate = rows / elapsed if elapsed > 0 else 0.0
        rejected = task.fields.get("rejected", 0)
        extra = f", {rejected:,} rejected" if rejected else ""
        return Text(f"{rows:,} rows ({rate:,.0f}/s{extra})")


class ImportProgressBar:
    """No output unless enabled (stderr is a terminal)."""

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self._enabled = enabled
        self._console = console
        self._progress: Progress | None = None
        self._task: Any = None
        self._started = time.monotonic()

    def __enter__(self) -> Self:
        if self._enabled:
            self._progress = Progress(
                TextColumn("[bold]importing"),
                BarColumn(),
                DownloadColumn(),
                RowsPerSecond(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                transient=False,
                console=self._console,
            )
            self._progress.start()
            self._task = self._progress.add_task("import", total=None, rows=0, rejected=0)
        return self

    def update(self, progress: ImportProgress) -> None:
        if self._progress is None:
            return
        self._progress.update(
            self._task,
            completed=progress.bytes_done,
            total=progress.bytes_total or None,
            rows=progress.rows_loaded,
            rejected=progress.rows_rejected,
        )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
