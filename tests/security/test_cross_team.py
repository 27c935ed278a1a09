"""Cross-team reads and changes through every RPC that acts for a person.

The attacker is a genuine member (even the owner) of another team, holding identity's real
tokens for it; every request names the victim's ids. Reads answer with the attacker's own team
only; changes to the victim's things answer 'not found' (nothing about the victim leaks), go to
the security log, and never into either team's audit log.
"""

from __future__ import annotations

import logging

import pytest
from attack_support import enrol
from cloudaudit.common.testing import eventually


@pytest.fixture
async def stranger(attacker):
    return await enrol(attacker, "T-STRANGER", "U-STRANGER")  # the owner of their own team


@pytest.mark.slow
async def test_reads_answer_only_for_the_token_team(attacker, victim, stranger):
    as_me = {"identity": stranger.tokens["identity"], "ingest": stranger.tokens["ingest"]}
    analytics = stranger.tokens["analytics"]
    members = await attacker.ask("identity.v1.rpc.members", {"actor_token": as_me["identity"]})
    accounts = await attacker.ask("ingest.v1.rpc.accounts", {"actor_token": as_me["ingest"]})
    anomalies = await attacker.ask(
        "analytics.v1.rpc.anomalies", {"actor_token": analytics, "status": None}
    )
    recs = await attacker.ask(
        "analytics.v1.rpc.recommendations", {"actor_token": analytics, "status": None}
    )
    settings = await attacker.ask("analytics.v1.rpc.settings", {"actor_token": analytics})
    assert [m["user_id"] for m in members["members"]] == [str(stranger.user_id)]
    assert accounts["ok"] and accounts["accounts"] == []
    assert anomalies["ok"] and anomalies["anomalies"] == []
    assert recs["ok"] and recs["recommendations"] == []
    assert settings["ok"]  # the stranger's own team's defaults
    # the old shape, naming the victim's team in the body, gets no answer at all
    for subject in (
        "identity.v1.rpc.members",
        "ingest.v1.rpc.accounts",
        "analytics.v1.rpc.anomalies",
        "analytics.v1.rpc.recommendations",
    ):
        old = await attacker.ask(
            subject,
            {"team_id": str(victim.owner.team_id), "requested_by": str(victim.owner.user_id)},
        )
        assert not old["ok"] and "anomalies" not in old and "accounts" not in old, subject


async def test_spend_of_the_victims_account_is_not_found(attacker, victim, stranger):
    spend = await attacker.ask(
        "ingest.v1.rpc.spend",
        {
            "actor_token": stranger.tokens["ingest"],
            "start": "2026-11-01",
            "end": "2026-12-01",
            "account_ids": [str(victim.account_id)],
        },
    )
    assert not spend["ok"] and spend["error"]["code"] == "not_found"
    assert spend.get("groups", []) == []


@pytest.mark.parametrize(
    ("subject", "audience", "target"),
    [
        ("analytics.v1.rpc.anomaly_feedback", "analytics", "anomaly"),
        ("analytics.v1.rpc.decide", "analytics", "recommendation"),
        ("ingest.v1.rpc.sync", "ingest", "account"),
        ("identity.v1.rpc.change_role", "identity", "user"),
    ],
)
async def test_changes_to_the_victims_things_are_not_found_and_logged_for_security(
    attacker, victim, stranger, db, caplog, subject, audience, target
):
    body = {
        "anomaly": {"anomaly_id": str(victim.anomaly_id), "feedback": "not_useful"},
        "recommendation": {
            "recommendation_id": str(victim.recommendation_id),
            "decision": "dismiss",
            "reason": "mine now",
        },
        "account": {"account_id": str(victim.account_id)},
        "user": {"target_user_id": str(victim.owner.user_id), "role": "viewer"},
    }[target]
    with caplog.at_level(logging.WARNING, logger="cloudaudit.security"):
        answer = await attacker.ask(subject, {"actor_token": stranger.tokens[audience], **body})
    assert answer["error"]["code"] == "not_found", answer
    assert str(victim.owner.team_id) not in answer["error"]["message"]
    if target != "user":  # identity refuses inside its own team lookup: no one's log
        warned = [r for r in caplog.records if r.getMessage() == "cross-team attempt refused"]
        assert warned and warned[0].team_id == str(stranger.team_id)
    # nothing changed, and no audit entry names the stranger in the victim's team
    assert (await db.fetch("SELECT status, feedback FROM analytics.cost_anomalies"))[0][
        "status"
    ] == "open"
    assert (await db.fetch("SELECT status FROM analytics.recommendations"))[0]["status"] == 0
    assert await db.fetch("SELECT 1 FROM ingest.sync_runs") == []
    role = await db.fetch(
        "SELECT role FROM identity.team_members WHERE user_id = $1", victim.owner.user_id
    )
    assert role[0]["role"] == "owner"

    async def audit_settled():
        return await db.fetch(
            "SELECT action FROM identity.audit_logs WHERE team_id = $1 AND user_id = $2",
            victim.owner.team_id,
            stranger.user_id,
        )

    assert await audit_settled() == []


async def test_a_members_refusal_is_audited_once_in_the_team_log(attacker, victim, db):
    """A member of the team who may not do something: refused with the reason, and the
    attempt is in the team's log once (written by the service that refused it)."""
    answer = await attacker.ask(
        "analytics.v1.rpc.decide",
        {
            "actor_token": victim.member.tokens["analytics"],
            "recommendation_id": str(victim.recommendation_id),
            "decision": "approve",
        },
    )
    assert answer["error"]["code"] == "forbidden"

    async def refusals():
        rows = await db.fetch(
            "SELECT source, entity_id FROM identity.audit_logs WHERE team_id = $1 "
            "AND user_id = $2 AND action = 'authorization.refused'",
            victim.owner.team_id,
            victim.member.user_id,
        )
        return rows or None

    rows = await eventually(refusals, timeout=20)
    assert [(r["source"], r["entity_id"]) for r in rows] == [
        ("analytics", str(victim.recommendation_id))
    ]
