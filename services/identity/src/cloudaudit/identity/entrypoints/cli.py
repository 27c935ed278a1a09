"""`cloudaudit teams`, `cloudaudit users` and `cloudaudit audit`: operator commands for identity."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from cloudaudit.common.cli_support import database, parse_since, print_rows, run_cli
from cloudaudit.common.events.identity import Role
from cloudaudit.identity.adapters.orm import SCHEMA
from cloudaudit.identity.adapters.repository import IdentityRepository
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain.errors import IdentityError
from cloudaudit.identity.service import handlers

teams_app = typer.Typer(help="Teams and their members.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
Format = Annotated[str, typer.Option("--format", help="table or json")]


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise typer.BadParameter(f"{what} must be a UUID (see `cloudaudit teams list`)") from None


def _role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError:
        raise typer.BadParameter("role must be owner, admin, member or viewer") from None


@teams_app.command("list")
def teams_list(fmt: Format = "table") -> None:
    """All teams with their member counts."""

    async def go() -> None:
        async with database(SCHEMA) as sessions, sessions() as session:
            rows = await IdentityRepository(session).list_teams()
        print_rows(rows, ["team_id", "name", "members", "created_at"], fmt)

    run_cli(go())


@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="Team name")],
    owner_email: Annotated[str, typer.Option("--owner", help="Email of the first owner")],
) -> None:
    """Create a team with a first owner (created if the email is new)."""

    async def go() -> None:
        async with database(SCHEMA) as sessions:
            async with IdentityUnitOfWork(sessions) as uow:
                user = await uow.repo.user_by_email(owner_email.strip().lower())
            if user is None:
                from uuid import uuid4

                from cloudaudit.identity.domain.passwords import normalise_email

                email = normalise_email(owner_email)
                async with IdentityUnitOfWork(sessions) as uow:
                    user = {"user_id": uuid4()}
                    await uow.repo.add_user(user["user_id"], email=email)
                    await uow.commit()
            team_id = await handlers.create_team(
                name, user["user_id"], IdentityUnitOfWork(sessions)
            )
        typer.echo(f"created team {team_id} ({name}) owned by {owner_email}")

    run_cli(go(), (IdentityError,))


@teams_app.command("members")
def teams_members(
    team: Annotated[str, typer.Argument(help="Team id")], fmt: Format = "table"
) -> None:
    """Members of a team and their roles."""

    async def go() -> None:
        async with database(SCHEMA) as sessions, sessions() as session:
            rows = await IdentityRepository(session).members(_uuid(team, "team"))
        print_rows(rows, ["user_id", "email", "first_name", "last_name", "role", "joined_at"], fmt)

    run_cli(go())


@teams_app.command("add-member")
def teams_add_member(
    team: Annotated[str, typer.Argument(help="Team id")],
    email: Annotated[str, typer.Argument(help="Email of the person to add")],
    role: Annotated[str, typer.Option(help="owner, admin, member or viewer")] = "member",
) -> None:
    """Add a person to a team (audited as done by the operator)."""

    async def go() -> None:
        async with database(SCHEMA) as sessions:
            user_id = await handlers.add_member(
                _uuid(team, "team"), None, email, _role(role), IdentityUnitOfWork(sessions)
            )
        typer.echo(f"added {email} ({user_id}) as {role}")

    run_cli(go(), (IdentityError,))


@teams_app.command("remove-member")
def teams_remove_member(
    team: Annotated[str, typer.Argument(help="Team id")],
    user: Annotated[str, typer.Argument(help="User id")],
) -> None:
    """Remove a member (a team always keeps one owner)."""

    async def go() -> None:
        async with database(SCHEMA) as sessions:
            await handlers.remove_member(
                _uuid(team, "team"), None, _uuid(user, "user"), IdentityUnitOfWork(sessions)
            )
        typer.echo("removed")

    run_cli(go(), (IdentityError,))


@users_app.command("list")
def users_list(fmt: Format = "table") -> None:
    """All users (never their password hashes)."""

    async def go() -> None:
        async with database(SCHEMA) as sessions, sessions() as session:
            rows = await IdentityRepository(session).list_users()
        print_rows(rows, ["user_id", "email", "first_name", "last_name", "created_at"], fmt)

    run_cli(go())


def audit(
    team: Annotated[str, typer.Option("--team", help="Team id")],
    since: Annotated[str | None, typer.Option(help="7d, 24h or an ISO date")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries")] = 100,
    fmt: Format = "table",
) -> None:
    """The team's audit log, newest first."""

    async def go() -> None:
        async with database(SCHEMA) as sessions:
            rows = await handlers.read_audit(
                _uuid(team, "team"), None, parse_since(since), limit, IdentityUnitOfWork(sessions)
            )
        print_rows(
            rows,
            ["occurred_at", "action", "entity_type", "entity_id", "user_id", "source", "details"],
            fmt,
        )

    run_cli(go(), (IdentityError,))


def register(app: typer.Typer) -> None:
    app.add_typer(teams_app, name="teams")
    app.add_typer(users_app, name="users")
    app.command("audit")(audit)
