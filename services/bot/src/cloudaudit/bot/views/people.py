"""Messages about people: linking a Slack and a web identity, claiming a workspace's team,
invitations, and requests that came without a Slack workspace."""

from __future__ import annotations

from datetime import datetime

from cloudaudit.bot.views.common import Block, context, escape, mention, section, when

TEAMLESS = (
    "CloudAudit works per Slack workspace, and this request came without one (an org-wide "
    "Enterprise Grid install, or a malformed payload), so nothing was done. Install CloudAudit "
    "to the workspace itself and use it there."
)


def link_code(code: str, expires_at: datetime | None) -> list[Block]:
    """The one-time code the person enters on the web while signed in."""
    return [
        section(
            f"Your one-time link code: *{escape(code)}*\n"
            "Sign in to CloudAudit on the web and enter it (`POST /api/v1/link/slack`): "
            "your Slack account and your web account become one person."
        ),
        context(
            f"Works once, until {when(expires_at)}. Only you see this message; never share "
            "the code. Nothing changes until you enter it."
        ),
    ]


def linked() -> list[Block]:
    return [
        section(
            ":link: Your Slack account is now linked to your CloudAudit web account: one "
            "person, with the teams and roles of both."
        )
    ]


def claimed(team_name: str | None) -> list[Block]:
    name = f" *{escape(team_name)}*" if team_name else ""
    return [
        section(
            f":key: You own this workspace's CloudAudit team{name}. Invite people with "
            "`/cloudaudit invite @person [role]`, or let every full member in as a viewer "
            "(`cloudaudit teams policy --join workspace`)."
        )
    ]


def invited(slack_user_id: str, role: str, expires_at: datetime | None) -> list[Block]:
    return [
        section(
            f"Invited {mention(slack_user_id)} as {escape(role)}: they join the team the first "
            "time they use `/cloudaudit`."
        ),
        context(f"The invitation waits until {when(expires_at)}."),
    ]


def teamless() -> list[Block]:
    return [section(f":warning: {TEAMLESS}")]
