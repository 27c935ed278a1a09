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
from cloudaudit.common.permissions import action_words

# One block per entry, plus the heading and the footer, within Slack's 50 blocks a message.
AUDIT_MAX_SHOWN = BLOCKS_MAX - 2
LINE_MAX_CHARS = 400
# The details worth a reader's eye, and how each reads in a sentence.
DETAIL_WORDS = {
    "role": "as",
    "from": "from",
    "to": "to",
    "feedback": "feedback",
    "status": "now",
    "reason": "reason:",
    "channel_id": "channel",
}

ACTION_WORDS = {
    "team.created": "created the team",
    "user.signed_up": "signed up",
    "member.joined": "joined",
    "member.added": "added a member",
    "member.removed": "removed a member",
    "member.role_changed": "changed a role",
    "member.invited": "invited someone",
    "team.owner_named": "became the owner",
    "team.claim_code_issued": "issued a claim code",
    "team.join_policy_set": "changed who may join",
    "identity.linked": "linked a Slack and a web account",
    "slack.reinstalled": "reinstalled the app",
    "account.connect_requested": "asked to connect",
    "account.connected": "connected",
    "account.connection_failed": "could not connect",
    "alerts.channel_set": "moved the alerts",
    "alerts.digest_set": "set the digest",
    "spend.expected": "planned spend",
    "anomaly.spend_expected": "planned spend",
    "anomaly.spend_expectation_cancelled": "cancelled planned spend",
    "settings.thresholds_changed": "changed alert thresholds",
    "anomaly.thresholds_changed": "changed alert thresholds",
    "anomaly.feedback": "gave feedback on",
    "recommendation.approved": "approved",
    "recommendation.dismissed": "dismissed",
    "recommendation.snoozed": "snoozed",
    "recommendation.reopened": "reopened",
    "recommendation.expired": "saw expire",
    "recommendation.implemented": "saw carried out",
}
ENTITY_WORDS = {
    "aws_account": "AWS account",
    "recommendation": "recommendation",
    "anomaly": "anomaly",
    "team": "",
    "member": "member",
    "user": "",
    "channel": "",
    "spend_expectation": "",
    "invitation": "",
}


def who(entry: AuditEntry) -> str:
    if entry.user_id is None:
        return "_CloudAudit_"
    name = f"*{escape(entry.user_name or str(entry.user_id)[:8])}*"
    return f"{name} ({mention(entry.slack_user_id)})" if entry.slack_user_id else name


def _humane(action: str) -> str:
    """An action with no words of its own, readable: `budget.limit_set` -> budget limit set."""
    return escape(action.replace(".", " ").replace("_", " "))


def what(entry: AuditEntry) -> str:
    """The action in words: never the raw action name."""
    if entry.action == "authorization.refused" or entry.action.endswith(".refused"):
        tried = action_words(entry.entity_id or "") or _humane(
            entry.action.removesuffix(".refused")
        )
        reason = entry.details.get("reason")
        return f":no_entry: was refused: {escape(str(reason)) if reason else 'may not ' + tried}"
    return ACTION_WORDS.get(entry.action) or _humane(entry.action)


def _target(entry: AuditEntry) -> str:
    """What the action was about: the AWS account by its id and name, a recommendation..."""
    if entry.action.endswith(".refused") or not entry.entity_id:
        return ""
    noun = ENTITY_WORDS.get(entry.entity_type, _humane(entry.entity_type))
    if not noun:  # the team, the person, the channel: the sentence already says it
        return ""
    ident = entry.entity_id if len(entry.entity_id) <= 16 else entry.entity_id[:8]
    name = entry.details.get("name")
    named = f" “{escape(str(name))}”" if name and entry.entity_type == "aws_account" else ""
    return f" {noun} `{escape(ident)}`{named}"


def _details(entry: AuditEntry) -> str:
    if entry.action.endswith(".refused"):
        return ""
    shown = [
        f"{words} {escape(str(entry.details[key]))}"
        for key, words in DETAIL_WORDS.items()
        if entry.details.get(key) is not None
    ]
    if entry.source == "cli":
        shown.append("from the operator's CLI")
    return (" · " + ", ".join(shown)) if shown else ""


def audit_line(entry: AuditEntry) -> str:
    """One line per action: when, who, what, on what, and the details that matter."""
    line = (
        f"{when(entry.occurred_at)} · {who(entry)} {what(entry)}{_target(entry)}{_details(entry)}"
    )
    return clip(line, LINE_MAX_CHARS)


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
