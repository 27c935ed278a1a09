"""Who may join from Slack, one-time codes and the client address: pure rules, exhaustively."""

from __future__ import annotations

import itertools

import pytest
from cloudaudit.common.events.identity import GuestPolicy, JoinPolicy, Role, SlackPerson
from cloudaudit.identity.domain import codes, people
from cloudaudit.identity.domain.client_address import client_address, parse_networks
from cloudaudit.identity.domain.errors import (
    NotAdmitted,
    NotClaimed,
    NotInvited,
    SlackProfileMissing,
)
from cloudaudit.identity.domain.people import Admission, SlackKind
from pydantic import ValidationError

FULL = SlackPerson.full_member("T0ACME", "U0ANA")


def test_the_kind_of_slack_account_comes_from_its_flags_and_is_never_assumed():
    assert people.slack_kind(FULL) is SlackKind.FULL
    guest = FULL.model_copy(update={"is_restricted": True})
    single = FULL.model_copy(update={"is_ultra_restricted": True})
    stranger = FULL.model_copy(update={"is_stranger": True})
    connect = FULL.model_copy(update={"user_team_id": "T0OTHERORG"})
    assert [people.slack_kind(p) for p in (guest, single, stranger, connect)] == [
        SlackKind.GUEST,
        SlackKind.GUEST,
        SlackKind.EXTERNAL,
        SlackKind.EXTERNAL,
    ]
    for missing in ("is_restricted", "is_ultra_restricted", "is_stranger", "user_team_id"):
        with pytest.raises(SlackProfileMissing):
            people.slack_kind(FULL.model_copy(update={missing: None}))


def test_a_payload_without_a_workspace_is_no_person():
    for team in ("None", "", "E0ORGWIDE", "t0lower"):
        with pytest.raises(ValidationError):
            SlackPerson.full_member(team, "U0ANA")


def test_only_an_email_slack_confirmed_may_match_an_invitation():
    assert people.confirmed_email(FULL.model_copy(update={"email": "Ana@Acme.test"})) is None
    confirmed = FULL.model_copy(update={"email": "Ana@Acme.test", "email_confirmed": True})
    assert people.confirmed_email(confirmed) == "ana@acme.test"


def case(**changes) -> Admission:
    values = {
        "kind": SlackKind.FULL,
        "join_policy": JoinPolicy.INVITE,
        "guest_policy": GuestPolicy.REFUSE,
        "invited_role": None,
        "removed": False,
        "has_owner": True,
    }
    return Admission(**{**values, **changes})


def test_admission_by_invitation_policy_and_account_kind():
    assert people.admit(case(invited_role=Role.ADMIN)) is Role.ADMIN
    assert people.admit(case(join_policy=JoinPolicy.WORKSPACE)) is Role.VIEWER
    with pytest.raises(NotInvited):
        people.admit(case())
    with pytest.raises(NotInvited, match="removed"):
        people.admit(case(join_policy=JoinPolicy.WORKSPACE, removed=True))
    assert people.admit(case(removed=True, invited_role=Role.MEMBER)) is Role.MEMBER
    with pytest.raises(NotClaimed, match="claim-code"):
        people.admit(case(has_owner=False, join_policy=JoinPolicy.WORKSPACE))
    with pytest.raises(NotAdmitted, match="guests"):
        people.admit(case(kind=SlackKind.GUEST, invited_role=Role.OWNER))
    guest = case(kind=SlackKind.GUEST, guest_policy=GuestPolicy.VIEWER, invited_role=Role.OWNER)
    assert people.admit(guest) is Role.VIEWER


def test_nothing_admits_an_external_user():
    for join, guests, invited, removed, owned in itertools.product(
        JoinPolicy, GuestPolicy, (None, *Role), (False, True), (False, True)
    ):
        external = case(
            kind=SlackKind.EXTERNAL, join_policy=join, guest_policy=guests,
            invited_role=invited, removed=removed, has_owner=owned,
        )  # fmt: skip
        with pytest.raises(NotAdmitted):
            people.admit(external)


def test_a_member_who_became_a_guest_reads_only_or_is_refused():
    assert people.member_role(SlackKind.FULL, Role.ADMIN, GuestPolicy.REFUSE) is Role.ADMIN
    assert people.member_role(SlackKind.GUEST, Role.ADMIN, GuestPolicy.VIEWER) is Role.VIEWER
    with pytest.raises(NotAdmitted):
        people.member_role(SlackKind.GUEST, Role.ADMIN, GuestPolicy.REFUSE)
    with pytest.raises(NotAdmitted):
        people.member_role(SlackKind.EXTERNAL, Role.OWNER, GuestPolicy.VIEWER)


def test_codes_are_long_random_and_forgiving_to_type():
    made = {codes.new_code() for _ in range(200)}
    assert len(made) == 200
    code = made.pop()
    assert len(code) == 14 and code.count("-") == 2 and codes.looks_like_a_code(code)
    typed = f"  {code.lower().replace('-', ' ')} "
    assert codes.code_digest(typed) == codes.code_digest(code)
    assert codes.code_digest(code.replace("0", "O")) == codes.code_digest(code)
    assert not codes.looks_like_a_code("hello") and len(codes.code_digest(code)) == 64


PROXIES = parse_networks("10.0.0.0/8, 192.168.1.7")


def test_the_forwarded_address_is_believed_only_from_a_trusted_proxy():
    assert client_address("203.0.113.9", "198.51.100.1", PROXIES) == "203.0.113.9"
    assert client_address("10.1.2.3", "198.51.100.1", PROXIES) == "198.51.100.1"
    # a client's own forged entry sits left of what the proxies added: it is skipped
    assert client_address("10.1.2.3", "6.6.6.6, 198.51.100.1, 10.9.9.9", PROXIES) == (
        "198.51.100.1"
    )
    assert client_address("10.1.2.3", "not-an-ip", PROXIES) == "10.1.2.3"
    assert client_address("10.1.2.3", None, PROXIES) == "10.1.2.3"
    assert client_address("10.1.2.3", "198.51.100.1", ()) == "10.1.2.3"
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'"):
        parse_networks("10.0.0.0/33")
