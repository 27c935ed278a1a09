"""The help message: every subcommand with an example."""

from __future__ import annotations

from cloudaudit.bot.views.common import Block, context, header, section

SUBCOMMANDS: list[tuple[str, str]] = [
    ("help", "this list"),
    (
        "connect [role-arn]",
        "connect an AWS account (a read-only role; shows your ExternalId, the ARN filled in "
        "when you give it)",
    ),
    ("accounts", "connected accounts: status, last sync, Cost Explorer API spend this month"),
    (
        "disconnect <account> [delete-data]",
        "stop syncing an account (owners and admins); its data stays unless you add `delete-data`",
    ),
    (
        "spend [period] [by service|region|usage_type|account|tag:KEY]",
        "spend with a chart, e.g. `spend 30d by region` (periods: mtd, ytd, yesterday, 7d, "
        "last-month, 2026-10)",
    ),
    ("anomalies [open|all]", "cost anomalies"),
    ("recs [open|all]", "savings recommendations"),
    ("team", "members and roles (owners and admins can change roles)"),
    ("invite @person [role]", "invite someone to the team (owners and admins; member by default)"),
    (
        "link [code]",
        "link your Slack and web accounts: a code to enter on the web, or the web's code here",
    ),
    ("claim CODE", "become the first owner with the code the operator printed"),
    ("alerts here", "post this team's alerts in this channel"),
    ("alerts digest daily|weekly|off [at HOUR]", "a spend digest at a set hour, your time zone"),
    (
        "expect <service> <amount/day> <duration>",
        "planned spend that should not alert, e.g. `expect AmazonEC2 120 14d`",
    ),
    ("settings", "anomaly alert thresholds"),
    (
        "audit [--limit N]",
        "the team's audit log: who did what, and when (owners and admins)",
    ),
]


def help_message() -> list[Block]:
    blocks: list[Block] = [header("CloudAudit: AWS costs in Slack")]
    lines = [f"`/cloudaudit {usage}`\n{what}" for usage, what in SUBCOMMANDS]
    blocks.append(section("\n".join(lines)))
    blocks.append(
        context(
            "Alerts arrive in the channel set with `/cloudaudit alerts here`. "
            "The person who installed CloudAudit (or the one the operator named) owns the "
            "team; others join when invited."
        )
    )
    return blocks


def _usage_of(command: str | None) -> str | None:
    """The usage line of a subcommand (`spend [period] [by ...]`), if it is one."""
    if not command:
        return None
    return next((usage for usage, _ in SUBCOMMANDS if usage.split(" ")[0] == command), None)


def problem_message(problem: str, command: str | None = None) -> list[Block]:
    """What went wrong and one line of usage (the whole list is `/cloudaudit help`)."""
    usage = _usage_of(command)
    hint = f"Usage: `/cloudaudit {usage}`  ·  " if usage else ""
    return [
        section(f":thinking_face: {problem}"),
        context(f"{hint}`/cloudaudit help` lists every command"),
    ]


def help_text() -> str:
    return "CloudAudit commands: " + ", ".join(u.split(" ")[0] for u, _ in SUBCOMMANDS)
