"""Actor tokens without servers: issue, verify, refuse, rotate keys, keep the key file private."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from uuid import uuid4

import pytest
from cloudaudit.common.actors import (
    ACTOR_TOKEN_MAX_TTL,
    KEY_DIR,
    PUBLIC_FILE,
    SIGNING_FILE,
    Actor,
    ActorTokenIssuer,
    ActorVerifier,
    load_or_create_keys,
    rotate_keys,
)
from cloudaudit.common.errors import Forbidden, Unauthenticated
from cloudaudit.common.events.identity import Action, ActorSource, Audience, Role


class Settings:
    """The two settings the key code reads (no environment involved)."""

    def __init__(self, state_dir, actor_public_keys=None, actor_signing_keys=None):
        self.state_dir = state_dir
        self.actor_public_keys = actor_public_keys
        self.actor_signing_keys = actor_signing_keys


def _issue(issuer, audience=Audience.ANALYTICS, role=Role.MEMBER, **kw):
    team, user = uuid4(), uuid4()
    token, expires = issuer.issue(
        team_id=team, user_id=user, role=role, audience=audience, source=ActorSource.SLACK, **kw
    )
    return team, user, token, expires


def test_a_token_names_team_user_and_role_for_one_service(tmp_path):
    issuer = ActorTokenIssuer.from_settings(Settings(tmp_path))
    team, user, token, _ = _issue(issuer)
    actor = ActorVerifier.for_service(Settings(tmp_path), Audience.ANALYTICS).verify(token)
    assert (actor.team_id, actor.user_id, actor.role) == (team, user, Role.MEMBER)
    assert actor.refusal(Action.ANOMALY_FEEDBACK) is None
    with pytest.raises(Forbidden, match="only owners and admins can approve"):
        actor.require(Action.APPROVE_RECOMMENDATION)
    with pytest.raises(Unauthenticated, match="meant for analytics, not ingest"):
        ActorVerifier.for_service(Settings(tmp_path), Audience.INGEST).verify(token)


def test_lifetime_is_capped_at_five_minutes(tmp_path):
    issuer = ActorTokenIssuer.from_settings(Settings(tmp_path))
    _, _, _, expires = _issue(issuer, ttl=timedelta(hours=2))
    from cloudaudit.common.clock import utcnow

    assert expires - utcnow() <= ACTOR_TOKEN_MAX_TTL


def test_missing_and_garbage_tokens_say_what_to_do(tmp_path):
    ActorTokenIssuer.from_settings(Settings(tmp_path))
    verifier = ActorVerifier.for_service(Settings(tmp_path), Audience.BOT)
    for token in (None, "", "x.y.z", "not a token"):
        with pytest.raises(Unauthenticated, match="Act through Slack or the web app"):
            verifier.verify(token)


def test_the_first_start_writes_a_private_key_file_and_a_public_jwks(tmp_path):
    keys = load_or_create_keys(tmp_path)
    folder = tmp_path / KEY_DIR
    assert stat.S_IMODE((folder / SIGNING_FILE).stat().st_mode) == 0o600
    public = json.loads((folder / PUBLIC_FILE).read_text())
    assert [k["kid"] for k in public["keys"]] == [keys[0]["kid"]]
    assert all("d" not in k for k in public["keys"])  # no private part in the public file
    assert load_or_create_keys(tmp_path) == keys  # a restart keeps the key


def test_after_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key(tmp_path):
    old_issuer = ActorTokenIssuer.from_settings(Settings(tmp_path))
    verifier = ActorVerifier.for_service(Settings(tmp_path), Audience.ANALYTICS)
    _, _, old_token, _ = _issue(old_issuer)
    verifier.verify(old_token)  # the verifier has read the public keys once
    new_kid = rotate_keys(tmp_path)
    new_issuer = ActorTokenIssuer.from_settings(Settings(tmp_path))
    assert new_issuer.key_id == new_kid != old_issuer.key_id
    _, _, new_token, _ = _issue(new_issuer)
    verifier._loaded_at -= 10  # as if a while had passed since it read the file
    assert verifier.verify(new_token).role is Role.MEMBER  # an unknown kid re-reads the keys
    assert verifier.verify(old_token).role is Role.MEMBER  # the retired key is still listed


def test_keys_from_settings_need_no_state_directory(tmp_path):
    load_or_create_keys(tmp_path)
    signing = (tmp_path / KEY_DIR / SIGNING_FILE).read_text()
    public = (tmp_path / KEY_DIR / PUBLIC_FILE).read_text()
    from pydantic import SecretStr

    elsewhere = tmp_path / "other"
    issuer = ActorTokenIssuer.from_settings(Settings(elsewhere, None, SecretStr(signing)))
    _, user, token, _ = _issue(issuer, audience=Audience.INGEST)
    verifier = ActorVerifier.for_service(Settings(elsewhere, public), Audience.INGEST)
    assert verifier.verify(token).user_id == user
    assert not elsewhere.exists()


def test_the_operator_acts_with_owner_rights_and_is_audited_as_cli():
    operator = Actor.operator(uuid4())
    assert operator.user_id is None and operator.refusal(Action.MANAGE_MEMBERS) is None
    assert operator.audit_source("analytics") == "cli"
