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


def test_create_team_add_members_and_read_the_audit_log(cli_env):
    created = invoke(cli_env, "teams", "create", "Acme", "--owner", "ana@acme.test")
    assert created.exit_code == 0, created.output
    teams = json.loads(invoke(cli_env, "teams", "list", "--format", "json").output)
    assert [(t["name"], t["members"]) for t in teams] == [("Acme", 1)]
    team_id = teams[0]["team_id"]
    added = invoke(cli_env, "teams", "add-member", team_id, "bo@acme.test", "--role", "viewer")
    assert added.exit_code == 0, added.output
    members = json.loads(invoke(cli_env, "teams", "members", team_id, "--format", "json").output)
    assert {(m["email"], m["role"]) for m in members} == {
        ("ana@acme.test", "owner"),
        ("bo@acme.test", "viewer"),
    }
    audit = json.loads(invoke(cli_env, "audit", "--team", team_id, "--format", "json").output)
    assert [e["action"] for e in audit] == ["member.added", "team.created"]


def test_user_mistakes_are_one_line_errors(cli_env):
    invoke(cli_env, "teams", "create", "Acme", "--owner", "ana@acme.test")
    team_id = json.loads(invoke(cli_env, "teams", "list", "--format", "json").output)[0]["team_id"]
    bad_team = invoke(cli_env, "teams", "members", "not-a-uuid")
    assert bad_team.exit_code != 0 and "must be a UUID" in bad_team.output
    duplicate = invoke(cli_env, "teams", "add-member", team_id, "ana@acme.test")
    assert duplicate.exit_code == 1 and "already a member" in duplicate.output
    owner_id = json.loads(invoke(cli_env, "teams", "members", team_id, "--format", "json").output)[
        0
    ]["user_id"]
    last_owner = invoke(cli_env, "teams", "remove-member", team_id, owner_id)
    assert last_owner.exit_code == 1 and "at least one owner" in last_owner.output
    assert "Traceback" not in last_owner.output
