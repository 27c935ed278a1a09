"""Who may do what in a team, and which membership changes are allowed. Pure logic."""

from __future__ import annotations

from cloudaudit.common.events.identity import Action, Role
from cloudaudit.identity.domain.errors import Forbidden, LastOwner

ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.READ_SPEND: frozenset(Role),
    Action.READ_AUDIT: frozenset({Role.OWNER, Role.ADMIN}),
    Action.CONNECT_ACCOUNT: frozenset({Role.OWNER, Role.ADMIN}),
    Action.MANAGE_MEMBERS: frozenset({Role.OWNER, Role.ADMIN}),
    Action.CHANGE_SETTINGS: frozenset({Role.OWNER, Role.ADMIN}),
    Action.APPROVE_RECOMMENDATION: frozenset({Role.OWNER, Role.ADMIN}),
    Action.DISMISS_RECOMMENDATION: frozenset({Role.OWNER, Role.ADMIN}),
    Action.SNOOZE_RECOMMENDATION: frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER}),
    Action.ANOMALY_FEEDBACK: frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER}),
    Action.CONFIGURE_ALERTS: frozenset({Role.OWNER, Role.ADMIN}),
}

_ACTION_WORDS = {
    Action.READ_SPEND: "read spend",
    Action.READ_AUDIT: "read the audit log",
    Action.CONNECT_ACCOUNT: "connect AWS accounts",
    Action.MANAGE_MEMBERS: "change team membership",
    Action.CHANGE_SETTINGS: "change team settings",
    Action.APPROVE_RECOMMENDATION: "approve recommendations",
    Action.DISMISS_RECOMMENDATION: "dismiss recommendations",
    Action.SNOOZE_RECOMMENDATION: "snooze recommendations",
    Action.ANOMALY_FEEDBACK: "give anomaly feedback",
    Action.CONFIGURE_ALERTS: "configure alerts",
}


def allowed_roles(action: Action) -> frozenset[Role]:
    return PERMISSIONS[action]


def denial_reason(action: Action, role: Role | None) -> str | None:
    """None when allowed; otherwise a sentence the user sees."""
    if role is None:
        return "you are not a member of this team; ask an owner or admin to add you"
    roles = PERMISSIONS[action]
    if role in roles:
        return None
    names = " and ".join(
        r.value + "s" for r in sorted(roles, key=ROLE_RANK.__getitem__, reverse=True)
    )
    return f"only {names} can {_ACTION_WORDS[action]}; you are a {role.value}"


def check_role_change(
    actor_role: Role | None,
    target_current: Role,
    new_role: Role,
    owners_in_team: int,
    actor_is_target: bool,
) -> None:
    """Raise if the actor may not move the target from `target_current` to `new_role`.

    Owners may set any role. Admins manage members and viewers only (never admins or owners,
    never grant admin or owner). A team always keeps at least one owner.
    """
    if actor_role not in (Role.OWNER, Role.ADMIN):
        raise Forbidden(denial_reason(Action.MANAGE_MEMBERS, actor_role) or "not allowed")
    if actor_role is Role.ADMIN:
        if target_current in (Role.OWNER, Role.ADMIN) and not actor_is_target:
            raise Forbidden("admins cannot change the role of owners or other admins; ask an owner")
        if new_role in (Role.OWNER, Role.ADMIN) and target_current is not new_role:
            raise Forbidden("only owners can grant the admin or owner role; ask an owner")
    if target_current is Role.OWNER and new_role is not Role.OWNER and owners_in_team <= 1:
        raise LastOwner("a team must keep at least one owner; make someone else owner first")


def check_removal(
    actor_role: Role | None, target_role: Role, owners_in_team: int, actor_is_target: bool
) -> None:
    """Members may leave; owners/admins remove others under the same rules as role changes."""
    if target_role is Role.OWNER and owners_in_team <= 1:
        raise LastOwner("a team must keep at least one owner; make someone else owner first")
    if actor_is_target:
        return
    if actor_role not in (Role.OWNER, Role.ADMIN):
        raise Forbidden(denial_reason(Action.MANAGE_MEMBERS, actor_role) or "not allowed")
    if actor_role is Role.ADMIN and target_role in (Role.OWNER, Role.ADMIN):
        raise Forbidden("admins cannot remove owners or other admins; ask an owner")


def role_for_new_workspace_user(workspace_has_team: bool) -> Role:
    """The first person of a Slack workspace to use CloudAudit owns its team."""
    return Role.MEMBER if workspace_has_team else Role.OWNER
