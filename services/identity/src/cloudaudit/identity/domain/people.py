"""Who may be in a team from Slack: the kind of Slack account, and the admission rules (join
policy, guests, external users, invitations, removals). Pure logic.

An email never makes two accounts one person and never admits anyone on its own; the only
email that counts is one Slack says the person confirmed, and only to match an invitation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cloudaudit.common.events.identity import GuestPolicy, JoinPolicy, Role, SlackPerson
from cloudaudit.common.permissions import ROLE_RANK
from cloudaudit.identity.domain.errors import (
    NotAdmitted,
    NotClaimed,
    NotInvited,
    SlackProfileMissing,
)

# One answer for a team that does not exist and for one the person is not a member of, so
# that no answer tells a stranger a team exists.
TEAM_NOT_FOUND = "team not found; if you belong to it, ask an owner or admin to invite you"
UNCLAIMED = (
    "CloudAudit has no owner in this Slack workspace yet. The operator who runs CloudAudit "
    "names the first one: `cloudaudit teams claim-code` prints a one-time code that person "
    "types here as `/cloudaudit claim CODE` (or `cloudaudit teams create NAME --owner-slack "
    "<their Slack member id>`). With the Slack app installed through OAuth, the installer is "
    "the owner."
)
NOT_INVITED = (
    "you are not a member of this workspace's CloudAudit team. Ask an owner or admin to invite "
    "you (`/cloudaudit invite @you`). If you already use CloudAudit on the web, link the two "
    "accounts with `/cloudaudit link`."
)
REMOVED = (
    "you were removed from this workspace's CloudAudit team; an owner or admin can invite you "
    "again (`/cloudaudit invite @you`)"
)
GUESTS_REFUSED = (
    "Slack guests cannot use CloudAudit in this workspace. An owner can let guests read "
    "(`cloudaudit teams policy --team NAME --guests viewer`)."
)
EXTERNAL_REFUSED = (
    "CloudAudit answers the members of this workspace only, not people of another "
    "organisation (Slack Connect)."
)
PROFILE_MISSING = (
    "CloudAudit could not tell from Slack what kind of account you have (member, guest or "
    "external), so it did nothing. Try again in a minute; if it persists, the operator should "
    "check the bot's `users:read` scope and update the bot to this version."
)


class SlackKind(StrEnum):
    FULL = "full"  # a full member of the workspace
    GUEST = "guest"  # multi- or single-channel guest
    EXTERNAL = "external"  # a Slack Connect user of another organisation


def slack_kind(person: SlackPerson) -> SlackKind:
    """What the bot learnt from users.info; refused when it did not say."""
    flags = (person.is_restricted, person.is_ultra_restricted, person.is_stranger)
    if any(flag is None for flag in flags) or not person.user_team_id:
        raise SlackProfileMissing(PROFILE_MISSING)
    if person.is_stranger or person.user_team_id != person.slack_team_id:
        return SlackKind.EXTERNAL
    if person.is_restricted or person.is_ultra_restricted:
        return SlackKind.GUEST
    return SlackKind.FULL


def confirmed_email(person: SlackPerson) -> str | None:
    """The profile email when Slack says it was confirmed: usable to match an invitation."""
    return person.email.strip().lower() if person.email and person.email_confirmed else None


def _capped(kind: SlackKind, role: Role) -> Role:
    return Role.VIEWER if kind is SlackKind.GUEST else role


def refuse_kind(kind: SlackKind, guests: GuestPolicy) -> None:
    if kind is SlackKind.EXTERNAL:
        raise NotAdmitted(EXTERNAL_REFUSED)
    if kind is SlackKind.GUEST and guests is GuestPolicy.REFUSE:
        raise NotAdmitted(GUESTS_REFUSED)


def member_role(kind: SlackKind, role: Role, guests: GuestPolicy) -> Role:
    """A member's role in their token: refused if they became external or a refused guest
    since they joined; a guest reads only."""
    refuse_kind(kind, guests)
    return _capped(kind, role)


@dataclass(frozen=True, kw_only=True)
class Admission:
    """What is known about a Slack person who is not a member of the workspace's team."""

    kind: SlackKind
    join_policy: JoinPolicy
    guest_policy: GuestPolicy
    invited_role: Role | None
    removed: bool
    has_owner: bool


def admit(case: Admission) -> Role:
    """The role a newcomer joins with, or the refusal with what to do about it."""
    refuse_kind(case.kind, case.guest_policy)
    if case.invited_role is not None:
        return _capped(case.kind, case.invited_role)
    if not case.has_owner:
        raise NotClaimed(UNCLAIMED)
    if case.removed:
        raise NotInvited(REMOVED)
    if case.join_policy is JoinPolicy.WORKSPACE:
        return Role.VIEWER
    raise NotInvited(NOT_INVITED)


def higher(a: Role, b: Role) -> Role:
    """Of two roles one person held under two identities, the one they keep once linked."""
    return a if ROLE_RANK[a] >= ROLE_RANK[b] else b
