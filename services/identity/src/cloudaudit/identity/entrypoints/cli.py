"""`cloudaudit teams`, `users`, `audit` and `mail`: operator commands for identity.

Import-light (see `cloudaudit.common.cli`): the repository, handlers and SQLAlchemy load inside
the command that runs. Identity owns teams, so it also answers `--team NAME` for every
service's commands (`team_by_name`, declared as its ServiceSpec.team_lookup).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import Annotated, Any
from uuid import UUID

import typer
from cloudaudit.common.cli_support import (
    Format,
    TeamNotFound,
    TeamOption,
    cli_settings,
    database,
    output_format,
    parse_since,
    print_rows,
    resolve_team,
    run_cli,
)

teams_app = typer.Typer(help="Teams and their members.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
mail_app = typer.Typer(
    help="Mail kept by the embedded SMTP sink (used while SMTP_HOST is unset): sign-up, "
    "verification and password-reset mail, for local use. `show` prints the body, one-time "
    "links included: that is the point on a laptop; the messages live in <state dir>/mail.",
    no_args_is_help=True,
)
SCHEMA = "identity"  # cloudaudit.identity.adapters.orm.SCHEMA, without importing SQLAlchemy
TeamArgument = Annotated[
    str | None,
    typer.Argument(help="Deprecated: use --team (still accepted here)", show_default=False),
]
TEAM_COLUMNS = ["team_id", "name", "members", "created_at"]
MEMBER_COLUMNS = ["user_id", "email", "first_name", "last_name", "role", "joined_at"]
USER_COLUMNS = ["user_id", "email", "first_name", "last_name", "created_at", "email_verified_at"]
MAIL_COLUMNS = ["message_id", "received_at", "to", "subject"]
AUDIT_COLUMNS = [
    "occurred_at",
    "action",
    "entity_type",
    "entity_id",
    "user_id",
    "source",
    "details",
]


def _identity_errors() -> tuple[type[Exception], ...]:
    from cloudaudit.identity.domain.errors import IdentityError

    return (IdentityError,)


def _role(value: str) -> Any:
    from cloudaudit.common.events.identity import Role

    try:
        return Role(value.lower())
    except ValueError:
        raise typer.BadParameter("role must be owner, admin, member or viewer") from None


async def team_by_name(name: str) -> UUID:
    """The one team called `name`, or TeamNotFound listing the candidates with their ids."""
    from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork

    async with database(SCHEMA) as sessions, IdentityUnitOfWork(sessions) as uow:
        matches = await uow.repo.teams_named(name)
        if len(matches) == 1:
            return matches[0].team_id
        if matches:
            listed = ", ".join(f"{m.name} ({m.team_id})" for m in matches)
            raise TeamNotFound(
                f"{len(matches)} teams are called {name!r}: {listed}; give --team the id"
            )
        known = ", ".join(t.name for t in (await uow.repo.list_teams())[:20]) or "none yet"
        raise TeamNotFound(
            f"no team is called {name!r} (teams: {known}); `cloudaudit teams list` shows them"
        )


def _team_of(option: str | None, positional: str | None) -> str:
    if option and positional and option != positional:
        raise typer.BadParameter("give the team once, with --team")
    if positional and not option:
        typer.secho(
            "note: the team as a positional argument is deprecated; use --team",
            fg="yellow",
            err=True,
        )
    if not (option or positional):
        raise typer.BadParameter("--team is required (a team name or id)")
    return option or positional  # type: ignore[return-value]


@teams_app.command("list")
def teams_list(fmt: Format = "table") -> None:
    """All teams with their member counts."""
    output = output_format(fmt)

    async def go() -> None:
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork

        async with database(SCHEMA) as sessions, IdentityUnitOfWork(sessions) as uow:
            rows = await uow.repo.list_teams()
        print_rows([asdict(r) for r in rows], TEAM_COLUMNS, output)

    run_cli(go())


def _people_deps() -> Any:
    """The clock and settings the people handlers need (invitation and code lifetimes)."""
    from cloudaudit.common.settings import SettingsError, load_settings
    from cloudaudit.identity.service.deps import PeopleDeps
    from cloudaudit.identity.settings import IdentitySettings

    try:
        return PeopleDeps(settings=load_settings(IdentitySettings))
    except SettingsError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None


def _slack_id(value: str | None, pattern: str, what: str) -> str | None:
    import re

    if value is None:
        return None
    value = value.strip()
    if not re.fullmatch(pattern, value):
        raise typer.BadParameter(
            f"{value!r} is not a Slack {what} (in Slack: a profile's ⋮ menu, 'Copy member ID')"
            if what == "member id"
            else f"{value!r} is not a Slack {what} (T...; shown by `auth.test`, or in the "
            "workspace's URL in a browser)"
        )
    return value


OwnerEmail = Annotated[
    str | None,
    typer.Option(
        "--owner",
        help="Email of the first owner (invited: they join once "
        "they prove the address, on the web or in Slack)",
    ),
]
OwnerSlack = Annotated[
    str | None, typer.Option("--owner-slack", help="Slack member id (U...) of the first owner")
]
SlackTeam = Annotated[
    str | None, typer.Option("--slack-team", help="Slack workspace id (T...) the team is for")
]


@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="Team name (unique: --team takes it)")],
    owner_email: OwnerEmail = None,
    owner_slack: OwnerSlack = None,
    slack_team: SlackTeam = None,
    fmt: Format = "table",
) -> None:
    """Create a team and invite its first owner (by email or Slack member id). Nobody owns a
    team by being the first to type in Slack: the operator names the owner here, or hands
    them a code (`cloudaudit teams claim-code`)."""
    import json

    from cloudaudit.common.events.identity import SLACK_TEAM_ID_PATTERN, SLACK_USER_ID_PATTERN

    output = output_format(fmt)
    owner_slack = _slack_id(owner_slack, SLACK_USER_ID_PATTERN, "member id")
    slack_team = _slack_id(slack_team, SLACK_TEAM_ID_PATTERN, "workspace id")
    if owner_email and owner_slack:
        raise typer.BadParameter("name the first owner once: --owner EMAIL or --owner-slack U...")
    deps = _people_deps()

    async def go() -> UUID:
        from cloudaudit.common.actors import Actor
        from cloudaudit.common.events.identity import Role
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
        from cloudaudit.identity.service import invitations, ownership

        async with database(SCHEMA) as sessions:
            team_id = await ownership.operator_team(name, slack_team, IdentityUnitOfWork(sessions))
            if owner_email or owner_slack:
                await invitations.invite(
                    Actor.operator(team_id), owner_slack, owner_email, Role.OWNER,
                    IdentityUnitOfWork(sessions), deps,
                )  # fmt: skip
            return team_id

    team_id = run_cli(go(), _identity_errors())
    owner = owner_email or owner_slack
    if output == "json":
        typer.echo(json.dumps({"team_id": str(team_id), "name": name.strip()}))
    elif owner:
        typer.echo(
            f"created team {name.strip()!r} ({team_id}); {owner} is invited as its owner and "
            f"becomes it on first use (Slack, or the web once the address is proven); "
            f"commands take it as --team {name.strip()!r}"
        )
    else:
        typer.echo(
            f"created team {name.strip()!r} ({team_id}) with no owner yet: "
            f"`cloudaudit teams claim-code --team {name.strip()!r}` prints the code its owner "
            "types in Slack"
        )


@teams_app.command("members")
def teams_members(
    team_arg: TeamArgument = None,
    team: Annotated[
        str | None, typer.Option("--team", help="Team name or id (see `cloudaudit teams list`)")
    ] = None,
    fmt: Format = "table",
) -> None:
    """Members of a team and their roles."""
    wanted, output = _team_of(team, team_arg), output_format(fmt)

    async def go() -> None:
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork

        team_id = await resolve_team(wanted)
        async with database(SCHEMA) as sessions, IdentityUnitOfWork(sessions) as uow:
            rows = await uow.repo.members(team_id)
        print_rows([asdict(r) for r in rows], MEMBER_COLUMNS, output)

    run_cli(go())


TeamOptional = Annotated[
    str | None, typer.Option("--team", help="Team name or id (see `cloudaudit teams list`)")
]


def _team_and(option: str | None, given: list[str], what: str) -> tuple[str, str]:
    """`--team T VALUE`, or the older `TEAM VALUE` (deprecated, still accepted)."""
    if len(given) == 1 and option:
        return option, given[0]
    if len(given) == 2 and not option:
        typer.secho(
            "note: the team as a positional argument is deprecated; use --team",
            fg="yellow",
            err=True,
        )
        return given[0], given[1]
    raise typer.BadParameter(f"give --team TEAM and one {what}")


def _invite(wanted_team: str, email: str | None, slack_user: str | None, role: str) -> None:
    wanted_role = _role(role)
    deps = _people_deps()

    async def go() -> None:
        from cloudaudit.common.actors import Actor
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
        from cloudaudit.identity.service import invitations

        team_id = await resolve_team(wanted_team)
        async with database(SCHEMA) as sessions:
            made = await invitations.invite(
                Actor.operator(team_id), slack_user, email, wanted_role,
                IdentityUnitOfWork(sessions), deps,
            )  # fmt: skip
        how = (
            "when they first use CloudAudit in Slack"
            if slack_user
            else "when they use CloudAudit in Slack with this (Slack-confirmed) address, or "
            "accept it on the web once the address is proven"
        )
        typer.echo(
            f"invited {slack_user or email} as {role} (until {made.expires_at:%Y-%m-%d}); "
            f"they join {how}"
        )

    run_cli(go(), _identity_errors())


SlackUserOption = Annotated[
    str | None, typer.Option("--slack", help="Invite a Slack member id (U...) instead of an email")
]
RoleOption = Annotated[str, typer.Option(help="owner, admin, member or viewer")]


@teams_app.command("invite")
def teams_invite(
    email: Annotated[
        list[str] | None, typer.Argument(help="Email of the person to invite", metavar="[EMAIL]")
    ] = None,
    team: TeamOptional = None,
    slack: SlackUserOption = None,
    role: RoleOption = "member",
) -> None:
    """Invite a person to a team (audited as done by the operator); they join once they prove
    who they are. Never merges accounts by email."""
    from cloudaudit.common.events.identity import SLACK_USER_ID_PATTERN

    given = list(email or [])
    slack = _slack_id(slack, SLACK_USER_ID_PATTERN, "member id")
    if slack and not given and team:
        _invite(team, None, slack, role)
        return
    wanted_team, wanted_email = _team_and(team, given, "email")
    _invite(wanted_team, wanted_email, slack, role)


@teams_app.command("add-member")
def teams_add_member(
    email: Annotated[list[str], typer.Argument(help="Email of the person to add", metavar="EMAIL")],
    team: TeamOptional = None,
    role: RoleOption = "member",
) -> None:
    """Invite a person by email (the older name of `teams invite`)."""
    wanted_team, wanted_email = _team_and(team, email, "email")
    _invite(wanted_team, wanted_email, None, role)


INVITATION_COLUMNS = ["invitation_id", "email", "slack_user_id", "role", "created_at", "expires_at"]


@teams_app.command("invitations")
def teams_invitations(team: TeamOptional = None, fmt: Format = "table") -> None:
    """A team's invitations still waiting for their person."""
    output, deps = output_format(fmt), _people_deps()
    if not team:
        raise typer.BadParameter("--team is required (a team name or id)")

    async def go() -> None:
        from cloudaudit.common.actors import Actor
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
        from cloudaudit.identity.service import invitations

        team_id = await resolve_team(team)
        async with database(SCHEMA) as sessions:
            rows = await invitations.team_invitations(
                Actor.operator(team_id), IdentityUnitOfWork(sessions), deps
            )
        print_rows([{**asdict(r), "role": r.role.value} for r in rows], INVITATION_COLUMNS, output)

    run_cli(go(), _identity_errors())


@teams_app.command("claim-code")
def teams_claim_code(team: TeamOptional = None) -> None:
    """A one-time code that makes whoever types `/cloudaudit claim CODE` in Slack the first
    owner (single-workspace mode: nobody owns a workspace by being first). Without --team it
    claims the team of the workspace it is typed in. Give it to that person only."""
    deps = _people_deps()

    async def go() -> None:
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
        from cloudaudit.identity.service import ownership

        team_id = await resolve_team(team) if team else None
        async with database(SCHEMA) as sessions:
            code, expires_at = await ownership.new_claim_code(
                team_id, IdentityUnitOfWork(sessions), deps
            )
        typer.echo(
            f"claim code (one use, until {expires_at:%Y-%m-%d %H:%M} UTC): {code}\n"
            f"the first owner types in Slack:  /cloudaudit claim {code}"
        )

    run_cli(go(), _identity_errors())


@teams_app.command("policy")
def teams_policy(
    team: TeamOptional = None,
    join: Annotated[
        str | None,
        typer.Option(
            help="invite (only invited people join) or workspace (any full member "
            "of the linked Slack workspace joins as a viewer)"
        ),
    ] = None,
    guests: Annotated[
        str | None, typer.Option(help="refuse (default) or viewer (Slack guests read only)")
    ] = None,
) -> None:
    """Show or set who may join a team from Slack. External (Slack Connect) users never do."""
    from cloudaudit.common.events.identity import GuestPolicy, JoinPolicy

    if not team:
        raise typer.BadParameter("--team is required (a team name or id)")
    try:
        join_policy = JoinPolicy(join) if join else None
        guest_policy = GuestPolicy(guests) if guests else None
    except ValueError:
        raise typer.BadParameter(
            "--join is invite or workspace; --guests is refuse or viewer"
        ) from None

    async def go() -> None:
        from cloudaudit.common.actors import Actor
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
        from cloudaudit.identity.service import invitations

        team_id = await resolve_team(team)
        async with database(SCHEMA) as sessions:
            found = await invitations.set_policy(
                Actor.operator(team_id), join_policy, guest_policy, IdentityUnitOfWork(sessions)
            )
        typer.echo(f"join: {found.join_policy.value}; guests: {found.guest_policy.value}")

    run_cli(go(), _identity_errors())


@teams_app.command("remove-member")
def teams_remove_member(
    user: Annotated[list[str], typer.Argument(help="User id or email", metavar="USER")],
    team: TeamOptional = None,
) -> None:
    """Remove a member (a team always keeps one owner)."""
    wanted_team, wanted_user = _team_and(team, user, "user")

    async def go() -> None:
        from cloudaudit.common.actors import Actor
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
        from cloudaudit.identity.service import handlers

        team_id = await resolve_team(wanted_team)
        async with database(SCHEMA) as sessions:
            user_id = await _user_id(sessions, wanted_user)
            await handlers.remove_member(
                Actor.operator(team_id), user_id, IdentityUnitOfWork(sessions)
            )
        typer.echo(f"removed {wanted_user}")

    run_cli(go(), _identity_errors())


async def _user_id(sessions: Any, given: str) -> UUID:
    """A user by id, or by email (what an operator knows)."""
    from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
    from cloudaudit.identity.domain.errors import IdentityError

    with contextlib.suppress(ValueError):
        return UUID(given.strip())
    async with IdentityUnitOfWork(sessions) as uow:
        user = await uow.repo.user_by_email(given.strip().lower())
    if user is None:
        raise IdentityError(f"no user has the email {given!r} (see `cloudaudit users list`)")
    return user.user_id


@users_app.command("list")
def users_list(fmt: Format = "table") -> None:
    """All users (never their password hashes)."""
    output = output_format(fmt)

    async def go() -> None:
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork

        async with database(SCHEMA) as sessions, IdentityUnitOfWork(sessions) as uow:
            rows = await uow.repo.list_users()
        print_rows([asdict(r) for r in rows], USER_COLUMNS, output)

    run_cli(go())


def audit(
    team: TeamOption,
    since: Annotated[str | None, typer.Option(help="7d, 24h or an ISO date")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries")] = 100,
    fmt: Format = "table",
) -> None:
    """The team's audit log, newest first."""
    output, since_at = output_format(fmt), parse_since(since)

    async def go() -> None:
        from cloudaudit.common.actors import Actor
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
        from cloudaudit.identity.service import handlers

        team_id = await resolve_team(team)
        async with database(SCHEMA) as sessions:
            rows = await handlers.read_audit(
                Actor.operator(team_id), since_at, limit, IdentityUnitOfWork(sessions)
            )
        print_rows([asdict(r) for r in rows], AUDIT_COLUMNS, output)

    run_cli(go(), _identity_errors())


MIN_AUDIT_KEEP_DAYS = 30


def audit_prune(
    keep_days: Annotated[
        int,
        typer.Option(
            "--keep-days",
            min=MIN_AUDIT_KEEP_DAYS,
            help=f"Keep this many days of history (at least {MIN_AUDIT_KEEP_DAYS}).",
        ),
    ] = 400,
    dry_run: Annotated[bool, typer.Option(help="Count what would go; delete nothing.")] = False,
) -> None:
    """The audit log's retention: delete entries older than --keep-days, for every team.

    Runs as the role that owns the schemas (what `cloudaudit migrate` runs as): the identity
    service's own role may only append to the log, so this is the only way entries leave."""
    from datetime import timedelta

    from cloudaudit.common.clock import utcnow

    cutoff = utcnow() - timedelta(days=keep_days)

    async def go() -> None:
        from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork

        async with database(SCHEMA) as sessions, IdentityUnitOfWork(sessions) as uow:
            if dry_run:
                count = await uow.repo.audit_older_than(cutoff)
                typer.echo(f"{count} audit entries written before {cutoff:%Y-%m-%d} would go")
                return
            count = await uow.repo.prune_audit(cutoff)
            await uow.commit()
        typer.echo(f"removed {count} audit entries written before {cutoff:%Y-%m-%d}")

    run_cli(go(), _identity_errors())


def _printable(text: str) -> str:
    """Anyone on this machine can mail the sink: no control sequence reaches the terminal."""
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def _mail_folder() -> Any:
    from cloudaudit.common.mail_sink import mail_dir
    from cloudaudit.common.settings import SettingsError, load_settings
    from cloudaudit.identity.settings import IdentitySettings

    cli_settings()  # logging as every command has it; bad settings are one red line
    try:
        settings = load_settings(IdentitySettings)
    except SettingsError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    if not settings.embedded_mail:
        typer.secho(
            f"note: SMTP_HOST is set, so new mail goes to {settings.smtp_host}; the sink "
            "holds only what it kept before",
            fg="yellow",
            err=True,
        )
    return mail_dir(settings.state_dir)


@mail_app.command("list")
def mail_list(fmt: Format = "table") -> None:
    """Messages in the sink, oldest first (no bodies)."""
    from cloudaudit.common.mail_sink import list_mail

    output = output_format(fmt)
    rows = [
        {c: _printable(str(v)) if isinstance(v, str) else v for c, v in asdict(m).items()}
        for m in list_mail(_mail_folder())
    ]
    print_rows(rows, MAIL_COLUMNS, output)


@mail_app.command("show")
def mail_show(
    message_id: Annotated[str, typer.Argument(help="Id from `cloudaudit mail list` (or a prefix)")],
) -> None:
    """One message with its body: the one-time link in it is live, so keep it to yourself."""
    from cloudaudit.common.mail_sink import MailSinkError, read_mail

    try:
        mail = read_mail(_mail_folder(), message_id)
    except MailSinkError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    for name, value in (("From", mail.sender), ("To", mail.to), ("Subject", mail.subject)):
        typer.echo(f"{name}: {_printable(value)}")
    typer.echo(f"Received: {mail.received_at.isoformat()}\n")
    typer.echo(_printable(mail.body))


def register(app: typer.Typer) -> None:
    app.add_typer(teams_app, name="teams")
    app.add_typer(users_app, name="users")
    app.add_typer(mail_app, name="mail")
    app.command("audit")(audit)
    app.command("audit-prune")(audit_prune)
