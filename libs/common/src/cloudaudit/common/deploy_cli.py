"""`cloudaudit deploy render [--check]`: the deployment files generated from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

deploy_app = typer.Typer(help="Deployment files generated from the code.", no_args_is_help=True)


@deploy_app.command("render")
def render(
    root: Annotated[Path, typer.Option(help="The repository's root (where deploy/ is).")] = Path(
        "."
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; fail if a file is out of date.")
    ] = False,
) -> None:
    """Write the NATS configs of compose and Kubernetes (users and permissions from the bus
    catalogue, passwords as environment references, TLS files and cluster routes)."""
    from cloudaudit.common.deploy_config import stale_files, write_files

    if not (root / "deploy").is_dir():
        typer.secho(
            f"error: no deploy/ folder under {root.resolve()}; pass --root", fg="red", err=True
        )
        raise typer.Exit(2)
    if check:
        stale = stale_files(root)
        for path in stale:
            typer.secho(f"out of date: {path}", fg="red", err=True)
        if stale:
            typer.secho("run `cloudaudit deploy render` and commit the result", err=True)
            raise typer.Exit(1)
        typer.echo("deployment files are current")
        return
    written = write_files(root)
    for path in written:
        typer.echo(f"wrote {path}")
    if not written:
        typer.echo("deployment files are current")
