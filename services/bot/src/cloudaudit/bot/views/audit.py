"""Audit log view: the latest entries of a team, who did what to which thing, and when."""

from __future__ import annotations

from cloudaudit.bot.views.common import (
    BLOCKS_MAX,
    Block,
    clip,
    context,
    escape,
    mention,
    section,
    when,
)
from cloudaudit.common.events.identity import AuditEntry

# One block per entry, plus the heading and the footer, within Slack's 50 blocks a message.
AUDIT_MAX_SHOWN = BLOCKS_MAX - 2
DETAIL_KEYS = (
    "role",
    "from",
    "to",
    "feedback",
    "status",
    "reason",
    "name",
    "aws_account_id",
    "channel_id",
)
DETAIL_MAX_CHARS = 200

ACTION_WORDS = {
    "team.created": "created the team",
    "member.joined": "joined",
    "member.added": "added a member",
    "member.removed": "removed a member",
    "member.role_changed": "changed a role",
    "authorization.refused": ":no_entry: was refused",
    "account.connect_requested": "connected an AWS account",
    "alerts.channel_set": "moved the alerts",
    "alerts.digest_set": "set the digest",
    "spend.expected": "planned spend",
    "settings.thresholds_changed": "changed alert thresholds",
    "anomaly.feedback": "gave anomaly feedback",
    "recommendation.approved": "approved a recommendation",
    "recommendation.dismissed": "dismissed a recommendation",
    "recommendation.snoozed": "snoozed a recommendation",
    "recommendation.reopened": "reopened a recommendation",
}


def who(entry: AuditEntry) -> str:
    if entry.user_id is None:
        return "_CloudAudit_"
    name = f"*{escape(entry.user_name or str(entry.user_id)[:8])}*"
    return f"{name} ({mention(entry.slack_user_id)})" if entry.slack_user_id else name


def what(entry: AuditEntry) -> str:
    words = ACTION_WORDS.get(entry.action)
    if words is None and entry.action.endswith(".refused"):
        words = f":no_entry: was refused: {escape(entry.action.removesuffix('.refused'))}"
    return f"{words or escape(entry.action)} `{escape(entry.action)}`"


def _details(entry: AuditEntry) -> str:
    shown = [
        f"{escape(key)}: {escape(str(entry.details[key]))}"
        for key in DETAIL_KEYS
        if entry.details.get(key) is not None
    ]
    # Two services may record one decision (the bot and analytics): say which one this is.
    shown.append(f"recorded by {escape(entry.source)}")
    return clip(" · ".join(shown), DETAIL_MAX_CHARS)


def audit_line(entry: AuditEntry) -> str:
    target = f"{escape(entry.entity_type)} `{escape(entry.entity_id or '-')}`"
    line = f"{when(entry.occurred_at)} · {who(entry)} {what(entry)} · {target}"
    return f"{line}\n{_details(entry)}"


def audit_list(entries: list[AuditEntry], more: bool) -> list[Block]:
    if not entries:
        return [section("*Audit log*: nothing recorded for this team yet.")]
    shown = entries[:AUDIT_MAX_SHOWN]
    blocks: list[Block] = [section(f"*Audit log: the latest {len(shown)} entries*, newest first")]
    blocks.extend(section(audit_line(entry)) for entry in shown)
    blocks.append(
        context(
            "Older entries: `/cloudaudit audit --limit N` (up to "
            f"{AUDIT_MAX_SHOWN}); operators can export everything with `cloudaudit audit`."
            if more
            else "That is the whole log of this team."
        )
    )
    return blocks
