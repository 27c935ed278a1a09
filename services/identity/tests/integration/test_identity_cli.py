"""Operator commands (`cloudaudit teams/users/audit`) against a real database."""

from __future__ import annotations

import json

import pytest
from cloudaudit.common.cli import _register_service_commands, app
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def cli_env(database_url, infrastructure, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("NATS_URL", infrastructure.nats_url)
    if not any(getattr(c, "name", None) == "teams" for c in app.registered_groups):
        _register_service_commands()
    return app


def invoke(cli, *args):
    result = runner.invoke(cli, list(args))
    return result


def test_create_team_invite_people_and_read_the_audit_log(cli_env):
    created = invoke(cli_env, "teams", "create", "Acme", "--owner", "ana@acme.test")
    assert created.exit_code == 0, created.output
    assert "invited as its owner" in created.output
    teams = json.loads(invoke(cli_env, "teams", "list", "--format", "json").output)
    # nobody is a member until they prove who they are: an invitation waits for them
    assert [(t["name"], t["members"]) for t in teams] == [("Acme", 0)]
    team_id = teams[0]["team_id"]
    added = invoke(
        cli_env, "teams", "add-member", "--team", team_id, "bo@acme.test", "--role", "viewer"
    )
    assert added.exit_code == 0, added.output
    by_slack = invoke(cli_env, "teams", "invite", "--team", "Acme", "--slack", "U0CY")
    assert by_slack.exit_code == 0 and "first use CloudAudit in Slack" in by_slack.output
    waiting = json.loads(
        invoke(cli_env, "teams", "invitations", "--team", team_id, "--format", "json").output
    )
    assert {(i["email"], i["slack_user_id"], i["role"]) for i in waiting} == {
        ("ana@acme.test", None, "owner"),
        ("bo@acme.test", None, "viewer"),
        (None, "U0CY", "member"),
    }
    audit = json.loads(invoke(cli_env, "audit", "--team", team_id, "--format", "json").output)
    assert [e["action"] for e in audit] == [
        "member.invited",
        "member.invited",
        "member.invited",
        "team.created",
    ]


def test_the_join_policy_and_a_claim_code_come_from_the_operator(cli_env):
    invoke(cli_env, "teams", "create", "Acme", "--slack-team", "T0ACME")
    shown = invoke(cli_env, "teams", "policy", "--team", "Acme")
    assert shown.exit_code == 0 and shown.output.strip() == "join: invite; guests: refuse"
    changed = invoke(
        cli_env, "teams", "policy", "--team", "Acme", "--join", "workspace", "--guests", "viewer"
    )
    assert changed.output.strip() == "join: workspace; guests: viewer"
    wrong = invoke(cli_env, "teams", "policy", "--team", "Acme", "--join", "anyone")
    assert wrong.exit_code == 2 and "invite or workspace" in wrong.output
    code = invoke(cli_env, "teams", "claim-code", "--team", "Acme")
    assert code.exit_code == 0 and "/cloudaudit claim " in code.output
    bad_slack = invoke(cli_env, "teams", "create", "Beta", "--owner-slack", "not-an-id")
    assert bad_slack.exit_code == 2 and "Copy member ID" in bad_slack.output


def test_user_mistakes_are_one_line_errors(cli_env):
    invoke(cli_env, "teams", "create", "Acme", "--owner", "ana@acme.test")
    team_id = json.loads(invoke(cli_env, "teams", "list", "--format", "json").output)[0]["team_id"]
    bad_team = invoke(cli_env, "teams", "members", "--team", "not-a-team")
    assert bad_team.exit_code == 1 and "no team is called 'not-a-team'" in bad_team.output
    assert "Acme" in bad_team.output  # the teams that do exist are listed
    duplicate = invoke(cli_env, "teams", "add-member", "--team", team_id, "ana@acme.test")
    assert duplicate.exit_code == 1 and "invited already" in duplicate.output
    owned = invoke(cli_env, "teams", "create", "Beta", "--owner", "a@b.test", "--owner-slack", "U1")
    assert owned.exit_code == 2 and "name the first owner once" in owned.output
    assert "Traceback" not in duplicate.output + owned.output


def test_every_team_option_takes_the_team_name(cli_env):
    created = invoke(cli_env, "teams", "create", "Acme Corp", "--owner", "ana@acme.test")
    assert "--team 'Acme Corp'" in created.output
    team_id = json.loads(invoke(cli_env, "teams", "list", "--format", "json").output)[0]["team_id"]
    added = invoke(cli_env, "teams", "add-member", "--team", "acme corp", "bo@acme.test")
    assert added.exit_code == 0, added.output
    by_name = json.loads(
        invoke(cli_env, "teams", "members", "--team", "Acme Corp", "--format", "json").output
    )
    by_id = json.loads(
        invoke(cli_env, "teams", "members", "--team", team_id, "--format", "json").output
    )
    assert by_name == by_id
    audit = invoke(cli_env, "audit", "--team", "Acme Corp", "--format", "json")
    actions = [e["action"] for e in json.loads(audit.output)]
    assert actions == ["member.invited", "member.invited", "team.created"]


def test_team_names_are_unique_and_the_old_positional_still_works(cli_env):
    invoke(cli_env, "teams", "create", "Acme", "--owner", "ana@acme.test")
    again = invoke(cli_env, "teams", "create", "Acme", "--owner", "bo@acme.test")
    assert again.exit_code == 1 and "exists already" in again.output
    assert len(json.loads(invoke(cli_env, "teams", "list", "--format", "json").output)) == 1
    old_style = CliRunner().invoke(cli_env, ["teams", "members", "Acme"])
    assert old_style.exit_code == 0 and "deprecated; use --team" in old_style.stderr
    old_add = CliRunner().invoke(cli_env, ["teams", "add-member", "Acme", "cy@acme.test"])
    assert old_add.exit_code == 0 and "deprecated; use --team" in old_add.stderr
    both = invoke(cli_env, "teams", "add-member", "--team", "Acme", "Acme", "dee@acme.test")
    assert both.exit_code == 2 and "give --team TEAM and one email" in both.output


async def test_a_name_two_teams_share_is_an_error_listing_both(cli_env, database_url):
    # Teams created before names were unique (or by the web sign-up) may share a name.
    from uuid import uuid4

    from cloudaudit.common.db import make_engine
    from cloudaudit.identity.adapters.repository import IdentityRepository
    from sqlalchemy.ext.asyncio import async_sessionmaker

    engine = make_engine(database_url, schema="identity")
    ids = [uuid4(), uuid4()]
    async with async_sessionmaker(engine)() as session:
        for team_id in ids:
            await IdentityRepository(session).add_team(team_id, "Twins")
        await session.commit()
    await engine.dispose()
    import asyncio

    result = await asyncio.to_thread(invoke, cli_env, "audit", "--team", "Twins")
    assert result.exit_code == 1
    assert "2 teams are called 'Twins'" in result.output
    assert all(str(i) in result.output for i in ids)
    assert "Traceback" not in result.output


async def _a_member(database_url: str, team_name: str) -> None:
    """A person who joined (as accepting an invitation does), straight into the tables."""
    from uuid import uuid4

    from cloudaudit.common.db import make_engine
    from cloudaudit.common.events.identity import Role
    from cloudaudit.identity.adapters.repository import IdentityRepository
    from sqlalchemy.ext.asyncio import async_sessionmaker

    engine = make_engine(database_url, schema="identity")
    async with async_sessionmaker(engine)() as session:
        repo = IdentityRepository(session)
        [team] = await repo.teams_named(team_name)
        user_id = uuid4()
        await repo.add_user(user_id, email="ana@acme.test")
        await repo.add_member(team.team_id, user_id, Role.OWNER)
        await session.commit()
    await engine.dispose()


async def test_lists_and_figures_print_json_with_the_documented_fields(cli_env, database_url):
    import asyncio

    await asyncio.to_thread(invoke, cli_env, "teams", "create", "Acme", "--owner", "ana@acme.test")
    await _a_member(database_url, "Acme")
    await asyncio.to_thread(_lists_and_figures, cli_env)


def _lists_and_figures(cli_env):
    invoke(cli_env, "teams", "add-member", "--team", "Acme", "bo@acme.test", "--role", "viewer")
    created = json.loads(
        invoke(
            cli_env, "teams", "create", "Beta", "--owner", "bo@b.test", "--format", "json"
        ).output
    )
    assert set(created) == {"team_id", "name"} and created["name"] == "Beta"
    teams = json.loads(invoke(cli_env, "teams", "list", "--format", "json").output)
    assert set(teams[0]) == {"team_id", "name", "members", "created_at"}
    users = json.loads(invoke(cli_env, "users", "list", "--format", "json").output)
    assert set(users[0]) == {
        "user_id",
        "email",
        "first_name",
        "last_name",
        "created_at",
        "email_verified_at",
    }
    members = json.loads(
        invoke(cli_env, "teams", "members", "--team", "Acme", "--format", "json").output
    )
    assert set(members[0]) == {"user_id", "email", "first_name", "last_name", "role", "joined_at"}
    audit = json.loads(invoke(cli_env, "audit", "--team", "Acme", "--format", "json").output)
    assert set(audit[0]) == {
        "occurred_at",
        "action",
        "entity_type",
        "entity_id",
        "user_id",
        "source",
        "details",
    }
    # the operator at the terminal is audited as such: no user, source cli
    (added,) = [e for e in audit if e["details"].get("email") == "bo@acme.test"]
    assert (added["user_id"], added["source"]) == (None, "cli")
    wrong = invoke(cli_env, "teams", "list", "--format", "yaml")
    assert wrong.exit_code == 2 and "--format must be table or json" in wrong.output
