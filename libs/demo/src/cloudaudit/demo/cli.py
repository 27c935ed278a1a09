"""`cloudaudit demo`: registered on the `cloudaudit` command by entry point."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from cloudaudit.demo.runner import demo

    app.command("demo")(demo)
