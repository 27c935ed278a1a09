"""`cloudaudit creds`: the bus's credentials and certificates (development CA, rotation).

Import-light like every CLI module: cryptography, nats-py and the bus catalogue load inside the
command that runs. No command prints a password or a private key: files are named, not shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from cloudaudit.common.cli_support import cli_settings

if TYPE_CHECKING:
    from cloudaudit.common.embedded import EmbeddedNats

creds_app = typer.Typer(
    help="Bus credentials and TLS certificates: a development CA, rotation without downtime.",
    no_args_is_help=True,
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code)


@creds_app.command("dev-ca")
def dev_ca(
    out: Annotated[Path, typer.Option("--out", help="Directory the CA and certificates go to.")],
    host: Annotated[
        list[str],
        typer.Option("--host", help="DNS name or IP address clients connect to (repeatable)."),
    ],
    name: Annotated[
        str, typer.Option("--name", help="File name of the certificate: <name>.pem, <name>-key.pem")
    ] = "server",
    days: Annotated[int, typer.Option("--days", min=1, max=825, help="Validity in days.")] = 365,
) -> None:
    """A development CA (created once in --out) and a server/route certificate it signs for
    the given hosts (serverAuth and clientAuth). For tests and the embedded cluster, not for
    production. Private keys are written 0600 and never printed."""
    from cloudaudit.common.dev_ca import DevCA, DevCaError

    ca = DevCA(out)
    try:
        created = ca.ensure(valid_days=days)
        issued = ca.issue(name, host, valid_days=days)
    except (DevCaError, OSError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"CA           {ca.ca_file}" + ("  (created)" if created else "  (existing)"))
    typer.echo(f"certificate  {issued.cert_file}  for {', '.join(issued.hosts)}")
    typer.echo(f"private key  {issued.key_file}  (mode 0600)")
    typer.echo(f"valid until  {issued.not_after:%Y-%m-%d %H:%M} UTC")
    typer.echo(f"clients: NATS_CA_FILE={ca.ca_file} and a tls:// NATS_URL naming one of the hosts")


def _embedded_nats() -> EmbeddedNats:
    from cloudaudit.common.infra import embedded_for

    settings = cli_settings()
    if settings.nats_url:
        raise _fail(
            "NATS_URL is set: `creds rotate` manages the embedded NATS, whose users live in the "
            "state directory. For your own NATS, generate its users' config with "
            "cloudaudit.common.bus_credentials (docs/trust-model.md, TLS and rotation) and "
            "reload it there"
        )
    return embedded_for(settings).nats


@creds_app.command("rotate")
def rotate(
    grace: Annotated[
        str, typer.Option("--grace", help="How long old credentials stay valid: 30m, 1h, 2d.")
    ] = "1h",
    finish: Annotated[
        bool, typer.Option("--finish", help="Drop the old credentials now (end the grace).")
    ] = False,
    keep_certificate: Annotated[
        bool, typer.Option("--keep-certificate", help="With TLS on: keep the server certificate.")
    ] = False,
) -> None:
    """New passwords for every bus user, admitted at once beside the old ones until the grace
    ends (`--finish`, or the first start after the deadline); with TLS on, a new server
    certificate too. Connected services stay connected; new connections use the new ones."""
    import asyncio

    from cloudaudit.common.bus_credentials import CredentialsError
    from cloudaudit.common.bus_rotation import RotationError
    from cloudaudit.common.bus_rotation import finish as finish_rotation
    from cloudaudit.common.bus_rotation import rotate as start_rotation
    from cloudaudit.common.dlq_cli import parse_age

    nats = _embedded_nats()
    if not nats.credentials.present():
        raise _fail("no bus credentials yet: start CloudAudit once (`cloudaudit up`)")
    try:
        if finish:
            dropped = asyncio.run(finish_rotation(nats))
            typer.echo(
                f"dropped {len(dropped)} old logins; only the current ones are admitted"
                if dropped
                else "no rotation under way: nothing to finish"
            )
            return
        period = parse_age(grace, option="--grace")
        assert period is not None
        result = asyncio.run(start_rotation(nats, period, renew_certificate=not keep_certificate))
    except (CredentialsError, RotationError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"new logins   {', '.join(result.logins)}  (passwords in {nats.credentials.directory})"
    )
    if result.certificate_renewed:
        typer.echo(f"certificate  {nats.server_tls().cert_file}  (new, same CA)")
    typer.echo(
        f"old logins admitted until {result.deadline:%Y-%m-%d %H:%M:%S} UTC; "
        "`cloudaudit creds rotate --finish` ends that sooner"
    )
    if not result.reloaded:
        typer.echo("the embedded NATS is not running: its next start admits both")


@creds_app.command("status")
def status() -> None:
    """Which login each bus user has, a rotation's deadline, the TLS certificate's expiry."""
    from cloudaudit.common.bus_credentials import BUS_USERS

    nats = _embedded_nats()
    credentials = nats.credentials
    if not credentials.present():
        raise _fail("no bus credentials yet: start CloudAudit once (`cloudaudit up`)", 3)
    for user in BUS_USERS:
        typer.echo(f"{user:<10} {credentials.current_login(user)}")
    rotation = credentials.rotation()
    if rotation is None:
        typer.echo("rotation   none under way")
    else:
        typer.echo(
            f"rotation   old logins ({', '.join(rotation.retiring)}) admitted until "
            f"{rotation.deadline:%Y-%m-%d %H:%M:%S} UTC"
        )
    if nats.tls:
        _show_certificate(nats.server_tls().cert_file)


def _show_certificate(path: Path) -> None:
    from cryptography import x509

    if not path.exists():
        typer.echo("tls        no certificate yet (issued at the next start)")
        return
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    typer.echo(f"tls        {path} valid until {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
