"""`cloudaudit demo`: the whole product on one machine, with a simulated AWS company."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Run the scripted tour and exit (CI).")
    ] = False,
) -> None:
    """Start everything with a simulated AWS company, then the Slack console or the scripted tour."""
    from cloudaudit.demo.tour import run_demo

    run_demo(interactive=not no_input)
