"""Who may do what in a team, and which membership changes are allowed. Pure logic."""

from __future__ import annotations

from cloudaudit.common.events.identity import Action, Role
from cloudaudit.common.permissions import (  # noqa: F401  (re-exported: identity's rules)
    PERMISSIONS,
    denial_reason,
)
from cloudaudit.identity.domain.errors import Forbidden, LastOwner


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
