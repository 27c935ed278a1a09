"""The help message: every subcommand with an example."""

from __future__ import annotations

from cloudaudit.bot.views.common import Block, context, header, section

SUBCOMMANDS: list[tuple[str, str]] = [
    ("help", "this list"),
    ("connect", "connect an AWS account (a read-only role; shows your ExternalId)"),
    ("accounts", "connected accounts: status, last sync, Cost Explorer API spend this month"),
    (
        "spend [period] [by service|region|usage_type|account|tag:KEY]",
        "spend with a chart, e.g. `spend 30d by region` (periods: mtd, ytd, yesterday, 7d, "
        "last-month, 2026-10)",
    ),
    ("anomalies [open|all]", "cost anomalies"),
    ("recs [open|all]", "savings recommendations"),
    ("team", "members and roles (owners and admins can change roles)"),
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


def help_message(problem: str | None = None) -> list[Block]:
    blocks: list[Block] = []
    if problem:
        blocks.append(section(f":thinking_face: {problem}"))
    blocks.append(header("CloudAudit: AWS costs in Slack"))
    lines = [f"`/cloudaudit {usage}`\n{what}" for usage, what in SUBCOMMANDS]
    blocks.append(section("\n".join(lines)))
    blocks.append(
        context(
            "Alerts arrive in the channel set with `/cloudaudit alerts here`. "
            "The first person to use CloudAudit in a workspace becomes its owner."
        )
    )
    return blocks


def help_text() -> str:
    return "CloudAudit commands: " + ", ".join(u.split(" ")[0] for u, _ in SUBCOMMANDS)
