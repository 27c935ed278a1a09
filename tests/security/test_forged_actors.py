"""Replays of the attacks on the trust model: a bus client acting as someone it is not.

Each attack is sent as raw JSON by a plain nats-py client, first in the old shape (the actor
named in the body, which every service believed) and then with every kind of bad token. Each
test checks the answer and, more importantly, that nothing changed.
"""

from __future__ import annotations

import logging

import pytest
from attack_support import (
    NO_ANSWER,
    claims_for,
    enrol,
    forged_token,
    identity_key,
    money,
)
from cloudaudit.common.clock import utcnow

# Who may act on what, and how the attack names the actor in the body (the shape every
# service believed before actor tokens).
DECIDE = "analytics.v1.rpc.decide"
SETTINGS = "analytics.v1.rpc.settings"
FEEDBACK = "analytics.v1.rpc.anomaly_feedback"
EXPECT = "analytics.v1.rpc.expect"
CHANGE_ROLE = "identity.v1.rpc.change_role"
AUDIT_LOG = "identity.v1.rpc.audit_log"
EXTERNAL_ID = "ingest.v1.rpc.external_id"
SYNC = "ingest.v1.rpc.sync"


def _refused(answer: dict, *codes: str) -> bool:
    return answer is NO_ANSWER or (not answer["ok"] and answer["error"]["code"] in codes)


async def _role(db, team_id, user_id) -> str | None:
    rows = await db.fetch(
        "SELECT role FROM identity.team_members WHERE team_id = $1 AND user_id = $2",
        team_id,
        user_id,
    )
    return rows[0]["role"] if rows else None


def _bad_tokens(victim, audience: str) -> dict[str, str]:
    """Every way a token can be wrong, each claiming to be the victim team's owner."""
    owner = victim.owner
    now = int(utcnow().timestamp())  # the verifier judges by the same clock
    return {
        "signed with another key": forged_token(claims_for(owner, audience)),
        "expired": forged_token(
            claims_for(owner, audience, iat=now - 900, exp=now - 600), identity_key()
        ),
        "for another service": forged_token(
            claims_for(owner, "web" if audience != "web" else "bot"), identity_key()
        ),
        "longer than 5 minutes": forged_token(
            claims_for(owner, audience, exp=now + 3600), identity_key()
        ),
        "not a token": "eyJhbGciOiJub25lIn0.eyJ0ZWFtIjoiIn0.",
        "unsigned (alg none)": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + "eyJyb2xlIjoib3duZXIifQ.",
    }


async def test_a_member_cannot_make_themself_owner_by_naming_the_owner(attacker, victim, db):
    """The attack: enrol into the workspace, then change_role 'as the owner'."""
    me = victim.member
    old_shape = await attacker.ask(
        CHANGE_ROLE,
        {
            "team_id": str(me.team_id),
            "actor_user_id": str(victim.owner.user_id),
            "target_user_id": str(me.user_id),
            "role": "owner",
        },
    )
    own_token = await attacker.ask(
        CHANGE_ROLE,
        {"actor_token": me.tokens["identity"], "target_user_id": str(me.user_id), "role": "owner"},
    )
    assert _refused(old_shape, "invalid_input")
    assert own_token == {
        "ok": False,
        "error": {
            "code": "forbidden",
            "message": "only owners and admins can change team membership; you are a member",
        },
        "role": None,
    }
    for why, token in _bad_tokens(victim, "identity").items():
        forged = await attacker.ask(
            CHANGE_ROLE,
            {"actor_token": token, "target_user_id": str(me.user_id), "role": "owner"},
        )
        assert _refused(forged, "unauthenticated"), why
    assert await _role(db, me.team_id, me.user_id) == "member"


async def test_thresholds_cannot_be_raised_to_silence_alerts(attacker, victim, db):
    """The attack: set a team's alert threshold to $1e9 so nothing ever alerts."""
    silence = {"min_impact": "1000000000"}
    attempts = [
        {"team_id": str(victim.owner.team_id), "user_id": str(victim.owner.user_id), **silence},
        {"actor_token": victim.member.tokens["analytics"], **silence},
    ] + [{"actor_token": t, **silence} for t in _bad_tokens(victim, "analytics").values()]
    answers = [await attacker.ask(SETTINGS, body) for body in attempts]
    assert _refused(answers[0], "invalid_input")
    assert answers[1]["error"]["code"] == "forbidden"
    assert "only owners and admins can change team settings" in answers[1]["error"]["message"]
    assert all(_refused(a, "unauthenticated") for a in answers[2:]), answers[2:]
    saved = await db.fetch("SELECT min_impact FROM analytics.anomaly_team_settings")
    assert saved == []  # the defaults still hold
    # the owner, through a real token, can change them: the refusals were not a broken RPC
    allowed = await attacker.ask(
        SETTINGS, {"actor_token": victim.owner.tokens["analytics"], "min_impact": "40"}
    )
    assert allowed["ok"] and money(allowed["min_impact"]) == 40


async def test_a_forged_authorize_answer_no_longer_approves_anything(attacker, victim, db):
    """The attack: answer identity's `authorize` with 'allowed' faster than identity does."""
    asked = await attacker.answer_as(
        "identity.v1.rpc.authorize", {"ok": True, "allowed": True, "role": "owner"}
    )
    me = victim.member
    old_shape = await attacker.ask(
        DECIDE,
        {
            "team_id": str(me.team_id),
            "recommendation_id": str(victim.recommendation_id),
            "user_id": str(me.user_id),
            "decision": "approve",
        },
    )
    member = await attacker.ask(
        DECIDE,
        {
            "actor_token": me.tokens["analytics"],
            "recommendation_id": str(victim.recommendation_id),
            "decision": "approve",
        },
    )
    assert _refused(old_shape, "invalid_input")
    assert member["error"] == {
        "code": "forbidden",
        "message": "only owners and admins can approve recommendations; you are a member",
    }
    assert asked == []  # analytics decided from the token; it asked no one
    status = await db.fetch(
        "SELECT status FROM analytics.recommendations WHERE recommendation_id = $1",
        victim.recommendation_id,
    )
    assert status[0]["status"] == 0  # still open


@pytest.mark.parametrize(
    ("subject", "audience", "body"),
    [
        (FEEDBACK, "analytics", {"feedback": "expected"}),
        (DECIDE, "analytics", {"decision": "dismiss", "reason": "x"}),
        (
            EXPECT,
            "analytics",
            {"service": "AmazonEC2", "amount": "900", "start": "2026-12-01", "end": "2026-12-31"},
        ),
        (AUDIT_LOG, "identity", {"limit": 20}),
        (EXTERNAL_ID, "ingest", {}),
        (SYNC, "ingest", {}),
    ],
)
async def test_every_bad_token_is_refused_and_changes_nothing(
    attacker, victim, db, subject, audience, body
):
    target = {
        FEEDBACK: {"anomaly_id": str(victim.anomaly_id)},
        DECIDE: {"recommendation_id": str(victim.recommendation_id)},
    }.get(subject, {})
    before = await _state(db)
    for why, token in _bad_tokens(victim, audience).items():
        answer = await attacker.ask(subject, {"actor_token": token, **target, **body})
        assert _refused(answer, "unauthenticated"), (why, answer)
        assert "victim-external-id" not in str(answer)
    missing = await attacker.ask(subject, {**target, **body})
    assert _refused(missing, "unauthenticated")
    assert await _state(db) == before


async def _state(db) -> list:
    """Everything an attack on the victim could have changed or left behind."""
    return [
        await db.fetch("SELECT status, feedback FROM analytics.cost_anomalies ORDER BY 1"),
        await db.fetch("SELECT status, decided_by FROM analytics.recommendations ORDER BY 1"),
        await db.fetch("SELECT count(*) FROM analytics.spend_expectations"),
        await db.fetch("SELECT count(*) FROM ingest.sync_runs"),
        await db.fetch("SELECT count(*) FROM analytics.outbox"),
        await db.fetch("SELECT count(*) FROM ingest.outbox"),
    ]


async def test_refused_tokens_are_logged_for_security_without_the_token(attacker, victim, caplog):
    token = forged_token(claims_for(victim.owner, "analytics"))
    with caplog.at_level(logging.WARNING, logger="cloudaudit.security"):
        await attacker.ask(
            DECIDE,
            {
                "actor_token": token,
                "recommendation_id": str(victim.recommendation_id),
                "decision": "approve",
            },
        )
    records = [r for r in caplog.records if r.name == "cloudaudit.security"]
    assert records and records[0].getMessage() == "actor token refused"
    assert all(token not in str(vars(r)) for r in records)


async def test_a_stranger_enrolled_elsewhere_gets_nothing_of_the_victim(attacker, victim, db):
    """Enrolment is open to any bus client today (bus permissions come with the locked-down
    bus): the stranger's genuine tokens still reach only the stranger's own team."""
    stranger = await enrol(attacker, "T-ATTACKER", "U-ATTACKER")
    assert stranger.team_id != victim.owner.team_id
    audit = await attacker.ask(AUDIT_LOG, {"actor_token": stranger.tokens["identity"]})
    assert audit["ok"] and all(e["user_id"] != str(victim.owner.user_id) for e in audit["entries"])
    external = await attacker.ask(EXTERNAL_ID, {"actor_token": stranger.tokens["ingest"]})
    assert external["ok"] and external["external_id"] != "ca-victim-external-id-7f3a9c"
