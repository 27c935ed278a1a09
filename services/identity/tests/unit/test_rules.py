"""Role rules of a team, exhaustively: who may do what, and which role changes are allowed."""

from __future__ import annotations

import itertools

import pytest
from cloudaudit.common.events.identity import Action, Role
from cloudaudit.identity.domain import rules
from cloudaudit.identity.domain.errors import Forbidden, InvalidInput, LastOwner
from cloudaudit.identity.domain.passwords import (
    check_password_strength,
    hash_password,
    normalise_email,
    token_digest,
    verify_password,
)


def test_viewer_cannot_approve_and_is_told_who_can():
    reason = rules.denial_reason(Action.APPROVE_RECOMMENDATION, Role.VIEWER)
    assert reason == "only owners and admins can approve recommendations; you are a viewer"


def test_member_may_snooze_but_not_approve():
    assert rules.denial_reason(Action.SNOOZE_RECOMMENDATION, Role.MEMBER) is None
    assert rules.denial_reason(Action.APPROVE_RECOMMENDATION, Role.MEMBER) is not None


def test_non_member_is_refused_everything():
    for action in Action:
        assert "not a member" in (rules.denial_reason(action, None) or "")


def test_everyone_in_the_team_reads_spend():
    assert all(rules.denial_reason(Action.READ_SPEND, role) is None for role in Role)


def test_every_action_has_a_permission_rule():
    assert set(rules.PERMISSIONS) == set(Action)


def test_last_owner_cannot_be_demoted():
    with pytest.raises(LastOwner):
        rules.check_role_change(
            Role.OWNER, Role.OWNER, Role.ADMIN, owners_in_team=1, actor_is_target=True
        )


def test_owner_can_demote_another_owner_when_one_remains():
    rules.check_role_change(
        Role.OWNER, Role.OWNER, Role.MEMBER, owners_in_team=2, actor_is_target=False
    )


@pytest.mark.parametrize(
    "target,new",
    [
        (Role.OWNER, Role.MEMBER),
        (Role.ADMIN, Role.MEMBER),
        (Role.MEMBER, Role.ADMIN),
        (Role.VIEWER, Role.OWNER),
    ],
)
def test_admin_cannot_touch_owners_admins_or_grant_them(target, new):
    with pytest.raises(Forbidden):
        rules.check_role_change(Role.ADMIN, target, new, owners_in_team=2, actor_is_target=False)


def test_admin_manages_members_and_viewers():
    rules.check_role_change(
        Role.ADMIN, Role.MEMBER, Role.VIEWER, owners_in_team=1, actor_is_target=False
    )
    rules.check_role_change(
        Role.ADMIN, Role.VIEWER, Role.MEMBER, owners_in_team=1, actor_is_target=False
    )


@pytest.mark.parametrize("actor", [Role.MEMBER, Role.VIEWER, None])
def test_members_viewers_and_outsiders_change_no_roles(actor):
    for target, new in itertools.product(Role, Role):
        with pytest.raises(Forbidden):
            rules.check_role_change(actor, target, new, owners_in_team=2, actor_is_target=False)


def test_every_rule_combination_keeps_an_owner():
    """No allowed change leaves a one-owner team without an owner."""
    for actor, target, new in itertools.product(Role, Role, Role):
        try:
            rules.check_role_change(actor, target, new, owners_in_team=1, actor_is_target=False)
        except (Forbidden, LastOwner):
            continue
        assert not (target is Role.OWNER and new is not Role.OWNER)


def test_member_may_leave_but_last_owner_may_not():
    rules.check_removal(Role.MEMBER, Role.MEMBER, owners_in_team=1, actor_is_target=True)
    with pytest.raises(LastOwner):
        rules.check_removal(Role.OWNER, Role.OWNER, owners_in_team=1, actor_is_target=True)


def test_password_hash_is_argon2id_and_verifies():
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "wrong horse battery")
    assert not verify_password(None, "anything at all")


def test_weak_passwords_and_bad_emails_are_refused_with_the_fix():
    with pytest.raises(InvalidInput, match="at least 10"):
        check_password_strength("short")
    with pytest.raises(InvalidInput, match=r"name@example\.com"):
        normalise_email("not-an-email")
    assert normalise_email("  Ana@Example.COM ") == "ana@example.com"


def test_session_tokens_are_stored_as_digests():
    assert len(token_digest("abc")) == 64
    assert token_digest("abc") != "abc"
