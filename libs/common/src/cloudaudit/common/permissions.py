"""Who may do what in a team: the role table every service authorizes from. Pure logic."""

from __future__ import annotations

from cloudaudit.common.events.identity import Action, Role

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


def action_words(action: str) -> str | None:
    """What an action lets a person do, in words ("configure alerts"), if it is one."""
    try:
        return _ACTION_WORDS[Action(action)]
    except ValueError:
        return None


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
