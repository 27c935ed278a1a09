"""The `cloudaudit` command: run, migrate and inspect the whole product.

Service-specific commands (teams, users, audit, ...) are added by each installed service.
Start-up is kept under 0.5 s (`benchmarks/cli_start.py`): this module and every service's CLI
module import only Typer and the standard library at the top; SQLAlchemy, FastStream,
pydantic-settings and the services' code load inside the command that runs.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from cloudaudit.common.cli_support import cli_settings, output_format
from cloudaudit.common.creds_cli import creds_app
from cloudaudit.common.deploy_cli import deploy_app
from cloudaudit.common.dlq_cli import dlq_app
from cloudaudit.common.outbox_cli import outbox_app
from cloudaudit.common.service import ServiceSpec, discover_services

if TYPE_CHECKING:
    from cloudaudit.common.infra import Endpoints
    from cloudaudit.common.settings import CommonSettings

app = typer.Typer(
    help="CloudAudit: AWS cost anomalies and savings, in Slack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rendering it with rich imports ~0.3 s of modules (markdown, pygments, ...)
    # before the first line, which alone spends most of the 0.5 s start budget.
    rich_markup_mode=None,
)
infra_app = typer.Typer(
    help="Manage the embedded NATS and PostgreSQL servers.", no_args_is_help=True
)
app.add_typer(infra_app, name="infra")
app.add_typer(dlq_app, name="dlq")
app.add_typer(outbox_app, name="outbox")
app.add_typer(creds_app, name="creds")
app.add_typer(deploy_app, name="deploy")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code)


def common_settings() -> CommonSettings:
    return cli_settings(log_level=None)


def services_or_fail(names: list[str] | None = None) -> dict[str, ServiceSpec]:
    specs = discover_services()
    if not names:
        return specs
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise fail(f"unknown service {', '.join(unknown)}; choose from {', '.join(specs)}", 2)
    return {n: specs[n] for n in names}


def endpoints_or_fail(settings: CommonSettings, start: bool = True):  # type: ignore[no-untyped-def]
    from cloudaudit.common.embedded import EmbeddedServerError
    from cloudaudit.common.infra import resolve_endpoints

    try:
        return resolve_endpoints(settings, start=start)
    except EmbeddedServerError as exc:
        raise fail(str(exc)) from None


async def _migrate(
    specs: dict[str, ServiceSpec], endpoints: Endpoints, settings: CommonSettings
) -> None:
    """Schemas and each service's database role, then (as the operator, on a locked-down
    bus) the JetStream streams."""
    from cloudaudit.common.migrations import migrate_services

    def report(spec: ServiceSpec, seconds: float) -> None:
        typer.echo(f"  migrated {spec.name:<10} schema {spec.schema:<10} ({seconds * 1000:.0f} ms)")

    roles = endpoints.database_roles
    await migrate_services(specs.values(), endpoints.database_url, roles, report)
    typer.echo(
        f"  roles    {', '.join(roles.role(name) for name in specs)}: each on its own schema"
    )
    if await _create_streams(endpoints, settings):
        typer.echo("  streams  created or updated as the bus operator")


async def _create_streams(endpoints: Endpoints, settings: CommonSettings) -> bool:
    from cloudaudit.common.bus import BusNames, create_streams

    return await create_streams(endpoints, BusNames(settings.bus_prefix), settings.stream_replicas)


@app.command()
def migrate(
    service: Annotated[
        list[str] | None, typer.Argument(help="Services to migrate (default all).")
    ] = None,
) -> None:
    """Apply every service's schema migrations (idempotent)."""
    import asyncio

    settings = common_settings()
    endpoints, _ = endpoints_or_fail(settings)
    asyncio.run(_migrate(services_or_fail(service), endpoints, settings))
    typer.secho("migrations up to date", fg="green")


@app.command()
def run(
    service: Annotated[str, typer.Argument(help="identity, ingest, analytics or bot")],
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations first.")
    ] = True,
) -> None:
    """Run one service in the foreground (what a container runs)."""
    import asyncio

    from cloudaudit.common.runtime import build_runtime

    settings = common_settings()
    spec = services_or_fail([service])[service]
    endpoints, started = endpoints_or_fail(settings)

    async def main() -> bool:
        try:
            if migrate_first:
                from cloudaudit.common.migrations import migrate_services

                await migrate_services([spec], endpoints.database_url, endpoints.database_roles)
            await _create_streams(endpoints, settings)  # its own bus user may not, when locked
            runtime = build_runtime(spec, settings, endpoints, settings.http_port_for(spec.name))
        except BaseException:
            # It never served: the embedded servers it started for itself go with it.
            from cloudaudit.common.infra import stop_embedded

            stop_embedded(settings, started)
            raise
        served = await runtime.serve_forever()
        if not served:
            say(f"{spec.name} stopped: {runtime.failure}", err=True, fg="red")
        return served

    if not asyncio.run(main()):
        raise typer.Exit(1)


@app.command()
def up(
    service: Annotated[
        list[str] | None, typer.Argument(help="Services to start (default all).")
    ] = None,
) -> None:
    """Start everything: embedded NATS + PostgreSQL if no URLs are set, migrations, all services."""
    import asyncio

    from cloudaudit.common.infra import stop_embedded
    from cloudaudit.common.settings import masked_url
    from cloudaudit.common.supervisor import Supervisor

    settings = common_settings()
    specs = services_or_fail(service)
    # A plain flag: Event.set() inside a signal handler can deadlock when signals repeat.
    stopping = {"requested": False, "failed": False}

    def shutdown(*_: object) -> None:
        stopping["requested"] = True

    say("Starting CloudAudit", bold=True)
    endpoints, started = endpoints_or_fail(settings)
    # From here on, whatever happens (Ctrl-C during migrations, a closed pipe on stdout), the
    # servers this command started are stopped before it returns.
    supervisor: Supervisor | None = None
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        say(
            f"  NATS       {masked_url(endpoints.nats_url)}"
            + ("  (embedded, one user per service)" if endpoints.locked else "")
        )
        db_shown = endpoints.database_url.split("@")[-1]
        say(f"  PostgreSQL {db_shown}" + ("  (embedded)" if settings.database_url is None else ""))
        say(f"  state      {settings.state_dir}")
        asyncio.run(_migrate(specs, endpoints, settings))
        env = dict(
            os.environ,
            NATS_URL=endpoints.nats_url,
            DATABASE_URL=endpoints.database_url,
            CLOUDAUDIT_LOG_FORMAT=os.environ.get("CLOUDAUDIT_LOG_FORMAT", "console"),
        )
        signal.signal(signal.SIGINT, shutdown)
        signal.signal(signal.SIGTERM, shutdown)
        supervisor = Supervisor(
            env,
            settings.state_dir / "logs",
            _echo_line,
            env_for=endpoints.service_env,
        )
        for spec in specs.values():
            if stopping["requested"]:
                break
            proc = supervisor.start(spec)
            say(
                f"  started {spec.name:<10} pid {proc.pid:<7} http://{settings.local_http_host()}:"
                f"{settings.http_port_for(spec.name)}/healthz"
            )
        say("CloudAudit is up. `cloudaudit status` in another terminal; Ctrl-C stops.", fg="green")
        rotation_checked = time.monotonic()
        while not stopping["requested"]:
            for name, code in supervisor.exited():
                say(f"{name} exited with code {code}; stopping", fg="red")
                stopping["requested"] = stopping["failed"] = True
            if "nats" in started and time.monotonic() - rotation_checked > ROTATION_CHECK_S:
                rotation_checked = time.monotonic()
                _end_rotation_when_due(settings)
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass  # Ctrl-C before the handler was installed: stop just the same
    finally:
        # A second Ctrl-C must not cut the shutdown short either.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        say("stopping services ...")
        if supervisor is not None:
            supervisor.stop()
        stop_embedded(settings, started)
        if started:
            say(f"stopped embedded {', '.join(started)} (data kept in {settings.state_dir})")
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    if stopping["failed"]:
        raise typer.Exit(1)


ROTATION_CHECK_S = 10.0


def _end_rotation_when_due(settings: CommonSettings) -> None:
    """The embedded bus's credential rotation ends at its deadline (`creds rotate --grace`)."""
    import asyncio

    from cloudaudit.common.bus_rotation import finish_when_due
    from cloudaudit.common.infra import embedded_for

    try:
        dropped = asyncio.run(finish_when_due(embedded_for(settings).nats))
    except Exception as exc:  # the services keep running; say it and try again later
        say(f"ending the credential rotation failed: {type(exc).__name__}: {exc}", fg="red")
        return
    if dropped:
        say(f"credential rotation's grace is over: old logins refused ({len(dropped)})")


def say(message: str, **style: object) -> None:
    """Echo for long-running commands: a closed stdout (`cloudaudit up | tee log`, then
    Ctrl-C kills tee) must never stop the shutdown. Later output goes to /dev/null."""
    try:
        typer.secho(message, **style)  # type: ignore[arg-type]
    except (BrokenPipeError, ValueError):
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    # As Python's signal docs advise for SIGPIPE: point the descriptor at /dev/null so the
    # interpreter's final flush does not raise again at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _echo_line(name: str, line: str) -> None:
    from cloudaudit.common.supervisor import COLOURS

    try:
        typer.secho(f"{name:>9} | ", fg=COLOURS.get(name, "white"), nl=False)
        typer.echo(line)
    except (BrokenPipeError, ValueError):
        _stdout_to_devnull()


async def _status(
    settings: CommonSettings, specs: dict[str, ServiceSpec]
) -> tuple[list[dict[str, str]], int | None]:
    """Each service's health row, and how many dead letters wait (None: unknown)."""
    import asyncio

    import aiohttp
    from cloudaudit.common.bus import BusNames, BusUnavailable, make_broker, rpc
    from cloudaudit.common.bus_tls import BusTlsError
    from cloudaudit.common.events.system import RPC_HEALTH, HealthReply
    from cloudaudit.common.infra import resolve_endpoints

    endpoints, _ = resolve_endpoints(settings, start=False)
    names = BusNames(settings.bus_prefix)
    broker = make_broker(endpoints.nats_url, names, "cli", 1, access=endpoints.bus_access)
    rows: list[dict[str, str]] = []
    try:
        await asyncio.wait_for(broker.connect(), 3)
    except BusTlsError:
        raise  # a TLS problem is a setting to fix, not "CloudAudit is not running"
    except Exception as exc:
        return [
            {"service": name, "bus": f"unreachable: {exc}", "http": "-", "notes": ""}
            for name in specs
        ], None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        for name in specs:
            row = {"service": name}
            try:
                reply = await rpc(
                    broker, names, RPC_HEALTH.format(service=name), {}, HealthReply, 2.0
                )  # type: ignore[arg-type]
                row["bus"] = (
                    "healthy" if reply.healthy else "unhealthy: " + json.dumps(reply.checks)
                )
                row["notes"] = "; ".join(reply.notes)
            except BusUnavailable:
                row["bus"] = "not answering"
                row["notes"] = ""
            port = settings.http_port_for(name)
            try:
                host = settings.local_http_host()
                async with http.get(f"http://{host}:{port}/healthz") as resp:
                    row["http"] = f":{port} {resp.status}"
            except Exception:
                row["http"] = f":{port} down"
            rows.append(row)
    dead = await _dead_letter_count(broker, names)
    await broker.stop()
    return rows, dead


async def _dead_letter_count(broker: Any, names: Any) -> int | None:
    from cloudaudit.common import dlq

    try:
        return await dlq.count(broker.config.connection_state.stream, names)
    except Exception:  # no DLQ stream yet (nothing ever started), or no JetStream access
        return None


NOT_RUNNING_HINT = (
    "Start it with `make up` (or `cloudaudit up`), then run `cloudaudit status` again."
)


@app.command()
def status(
    fmt: Annotated[
        str, typer.Option("--format", help="table, or json (schema: docs/cli-json.md)")
    ] = "table",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Health of the embedded servers and of every service (bus and HTTP).

    Exit code 0 when every service is healthy, 1 otherwise (3 when CloudAudit is not running)."""
    import asyncio

    from cloudaudit.common.infra import embedded_for
    from cloudaudit.common.settings import masked_url

    output = "json" if as_json else output_format(fmt)
    settings = common_settings()
    infra = embedded_for(settings)
    nats_pid = None if settings.nats_url else infra.nats.running_pid()
    postgres_pid = None if settings.database_url else infra.postgres.running_pid()
    servers = {
        "nats": masked_url(settings.nats_url_value() or "")
        or (f"embedded pid {nats_pid}" if nats_pid else "embedded, stopped"),
        "postgres": (
            "configured"
            if settings.database_url
            else (f"embedded pid {postgres_pid}" if postgres_pid else "embedded, stopped")
        ),
    }
    specs = services_or_fail()
    if not settings.nats_url and not nats_pid:
        # Nothing to ask: the embedded bus is not running, so neither is CloudAudit. Answer
        # at once (no bus client is imported) and say how to start it.
        rows = [{"service": name, "bus": "not running", "http": "-", "notes": ""} for name in specs]
        running, dead = False, None
    else:
        rows, dead = asyncio.run(_status(settings, specs))
        running = not all(r["bus"].startswith("unreachable") for r in rows)
    healthy = all(r.get("bus") == "healthy" for r in rows)
    if output == "json":
        typer.echo(
            json.dumps(
                {
                    "running": running,
                    "healthy": healthy,
                    "servers": servers,
                    "services": rows,
                    "dead_letters": dead,
                },
                indent=2,
            )
        )
    elif not running:
        where = masked_url(settings.nats_url_value() or "") or (
            f"embedded NATS under {settings.state_dir}"
        )
        typer.secho(f"CloudAudit is not running (no bus at {where}).", fg="red", err=True)
        typer.echo(NOT_RUNNING_HINT, err=True)
    else:
        for key, value in servers.items():
            typer.echo(f"{key:<10} {value}")
        for row in rows:
            ok = row.get("bus") == "healthy"
            typer.secho(
                f"{row['service']:<10} bus: {row.get('bus', '-'):<14} http: {row.get('http', '-')}"
                + (f"  note: {row['notes']}" if row.get("notes") else ""),
                fg="green" if ok else "red",
            )
        if dead is not None:
            typer.secho(
                f"{'dlq':<10} {dead} dead letter(s)"
                + ("  (`cloudaudit dlq list` shows them)" if dead else ""),
                fg="yellow" if dead else "green",
            )
    if not running:
        raise typer.Exit(3)
    if not healthy:
        raise typer.Exit(1)


@infra_app.command("start")
def infra_start() -> None:
    """Start the embedded servers (reused if already running)."""
    from cloudaudit.common.settings import masked_url

    settings = common_settings()
    endpoints, started = endpoints_or_fail(settings)
    typer.echo(f"NATS       {masked_url(endpoints.nats_url)}")
    typer.echo(f"PostgreSQL {masked_url(endpoints.database_url)}")
    typer.echo("started: " + (", ".join(started) or "nothing (already running)"))


@infra_app.command("stop")
def infra_stop() -> None:
    """Stop the embedded servers (data is kept)."""
    from cloudaudit.common.infra import stop_embedded

    settings = common_settings()
    stop_embedded(settings, ["nats", "postgres"])
    typer.echo("embedded servers stopped")


@infra_app.command("status")
def infra_status(
    fmt: Annotated[
        str, typer.Option("--format", help="table, or json (schema: docs/cli-json.md)")
    ] = "table",
) -> None:
    """Whether the embedded servers are running."""
    from cloudaudit.common.infra import embedded_for
    from cloudaudit.common.settings import masked_url

    output = output_format(fmt)
    settings = common_settings()
    infra = embedded_for(settings)
    if output == "json":
        servers = {"nats": infra.nats, "postgres": infra.postgres}
        typer.echo(
            json.dumps(
                {
                    name: {"pid": s.running_pid(), "url": masked_url(s.url)}
                    for name, s in servers.items()
                },
                indent=2,
            )
        )
        return
    typer.echo(f"nats      pid {infra.nats.running_pid() or '-'}  {infra.nats.url}")
    postgres = masked_url(infra.postgres.url)  # the superuser's password is in it
    typer.echo(f"postgres  pid {infra.postgres.running_pid() or '-'}  {postgres}")


@app.command()
def asyncapi(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if docs/asyncapi.json is stale.")
    ] = False,
    output: Annotated[Path, typer.Option(help="Where the document is kept.")] = Path(
        "docs/asyncapi.json"
    ),
) -> None:
    """Generate the AsyncAPI document of the whole bus from the services' code."""
    from cloudaudit.common.asyncapi import generate

    document = json.dumps(generate(discover_services()), indent=2, sort_keys=True) + "\n"
    if check:
        current = output.read_text() if output.exists() else ""
        if current != document:
            raise fail(f"{output} is out of date; run `make asyncapi` and commit it")
        typer.echo(f"{output} is current")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(document)
    typer.echo(f"wrote {output}")


def _register_service_commands() -> None:
    for spec in discover_services().values():
        if spec.cli:
            spec.load(spec.cli)(app)
    # Product-level tools that are not services (e.g. the demo) plug in the same way.
    for entry in entry_points(group="cloudaudit.cli"):
        entry.load()(app)


def main() -> None:
    _register_service_commands()
    try:
        app()
    except Exception as exc:
        from cloudaudit.common.bus_tls import BusTlsError  # not imported for every --help
        from cloudaudit.common.settings import SettingsError

        # a setting to fix (a bad value, a CA file that does not verify the server): one line
        if not isinstance(exc, SettingsError | BusTlsError):
            raise
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
