"""Account views: the list, the connect modal, and the connection result."""

from __future__ import annotations

import json

from cloudaudit.bot.views.common import (
    Block,
    clip,
    context,
    escape,
    link_button,
    section,
    usd,
    when,
)
from cloudaudit.common.events.account import (
    AccountStatus,
    AccountSummary,
    ConnectStep,
    DisconnectAccountReply,
    ExternalIdReply,
)

VIEW_CONNECT = "connect_modal"
ACTION_QUICK_CREATE = "connect_quick_create"
STATUS_ICON = {
    AccountStatus.CONNECTED: ":large_green_circle:",
    AccountStatus.SYNCING: ":arrows_counterclockwise:",
    AccountStatus.FAILED: ":red_circle:",
    AccountStatus.DISCONNECTED: ":white_circle:",
    AccountStatus.IMPORT_ONLY: ":page_facing_up:",
}
STEP_WORDS = {
    ConnectStep.VALIDATE_ARN: "checking the role ARN",
    ConnectStep.ASSUME_ROLE: "assuming the role (sts:AssumeRole with your ExternalId)",
    ConnectStep.COST_EXPLORER: "reading Cost Explorer",
    ConnectStep.PERMISSIONS: "checking the role's permissions",
    ConnectStep.THROTTLED: "AWS throttled the check",
}


def accounts_list(accounts: list[AccountSummary]) -> list[Block]:
    if not accounts:
        return [
            section(
                ":cloud: No AWS accounts connected yet. Run `/cloudaudit connect` to add "
                "one (it takes about two minutes)."
            )
        ]
    blocks: list[Block] = [
        section(f"*{len(accounts)} AWS account{'s' if len(accounts) != 1 else ''}*")
    ]
    for a in accounts:
        line = (
            f"{STATUS_ICON.get(a.status, '')} *{escape(a.name)}* `{escape(a.aws_account_id)}` · "
            f"{a.status.value}\nLast sync {when(a.last_sync_at)} · Cost Explorer API this "
            f"month: {a.ce_requests_this_month} requests, {usd(a.ce_cost_this_month)}"
        )
        if a.last_error:
            step = f" ({STEP_WORDS[a.last_error_step]})" if a.last_error_step else ""
            line += f"\n:warning: {escape(a.last_error)}{step}"
        blocks.append(section(line))
    return blocks


def which_account(reference: str, accounts: list[AccountSummary], matches: int) -> list[Block]:
    """`disconnect` named no single account: what the team has, to name one."""
    known = ", ".join(f"`{escape(a.aws_account_id)}` {escape(a.name)}" for a in accounts)
    problem = "matches several accounts" if matches > 1 else "is not one of the team's accounts"
    return [
        section(
            f":grey_question: `{escape(clip(reference, 60))}` {problem}. "
            + (f"The team's accounts: {known}. " if accounts else "The team has no accounts. ")
            + "Name one by its 12-digit id: `/cloudaudit disconnect 123456789012`"
        )
    ]


def disconnected(reply: DisconnectAccountReply) -> list[Block]:
    name = f"*{escape(reply.name or '')}* `{escape(reply.aws_account_id or '')}`"
    if reply.data_deleted:
        what = (
            f"Its data was deleted ({reply.cost_rows_deleted} cost line items, with its "
            "summaries, anomalies and recommendations)."
        )
    else:
        what = (
            "No more syncs; its costs and anomalies stay readable. `/cloudaudit connect` "
            "resumes it, and `/cloudaudit disconnect <id> delete-data` deletes its data."
        )
    return [section(f":white_circle: Disconnected {name}. {what}")]


def connect_modal(
    external: ExternalIdReply, channel_id: str | None, role_arn: str | None = None
) -> dict[str, object]:
    blocks: list[Block] = [
        section(
            "CloudAudit reads your costs through a *read-only IAM role* in your AWS account. "
            "Create it with our CloudFormation template, then paste its ARN below."
        ),
        section(
            f"*Your ExternalId*\n`{escape(external.external_id or '')}`\n"
            + (
                f"*Trusted principal*\n`{escape(external.principal_arn)}`"
                if external.principal_arn
                else ""
            )
        ),
    ]
    if external.quick_create_url:
        blocks.append(
            {
                "type": "actions",
                "block_id": "quick_create",
                "elements": [
                    link_button(
                        "Create the role in AWS (CloudFormation)",
                        ACTION_QUICK_CREATE,
                        external.quick_create_url,
                    )
                ],
            }
        )
    blocks += [
        {
            "type": "input",
            "block_id": "role_arn",
            "label": {"type": "plain_text", "text": "Role ARN"},
            "hint": {
                "type": "plain_text",
                "text": "From the stack's Outputs tab: "
                "arn:aws:iam::123456789012:role/CloudAuditReadOnly",
            },
            "element": {
                "type": "plain_text_input",
                "action_id": "value",
                "max_length": 2048,
                "placeholder": {
                    "type": "plain_text",
                    "text": "arn:aws:iam::123456789012:role/CloudAuditReadOnly",
                },
                # plain_text_input shows this as typed text, never as mrkdwn
                **({"initial_value": role_arn[:2048]} if role_arn else {}),
            },
        },
        {
            "type": "input",
            "block_id": "name",
            "optional": True,
            "label": {"type": "plain_text", "text": "Account name"},
            "element": {
                "type": "plain_text_input",
                "action_id": "value",
                "max_length": 200,
                "placeholder": {"type": "plain_text", "text": "e.g. production"},
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": VIEW_CONNECT,
        "private_metadata": json.dumps({"c": channel_id}, separators=(",", ":")),
        "title": {"type": "plain_text", "text": "Connect AWS account"},
        "submit": {"type": "plain_text", "text": "Connect"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def connect_started(role_arn: str) -> list[Block]:
    return [
        section(
            f":hourglass_flowing_sand: Checking `{escape(role_arn)}`… I'll tell you here "
            "when it's connected (usually under a minute)."
        )
    ]


def connect_succeeded(aws_account_id: str, name: str | None) -> list[Block]:
    label = f"*{escape(name)}* " if name else ""
    return [
        section(
            f":white_check_mark: Connected {label}`{escape(aws_account_id)}`. The first import "
            "of your cost history has started; try `/cloudaudit spend` in a few minutes."
        ),
        context("Alerts go to the channel where someone ran `/cloudaudit alerts here`."),
    ]


def connect_failed(step: ConnectStep | None, message: str) -> list[Block]:
    where = f" while {STEP_WORDS[step]}" if step else ""
    return [
        section(f":x: Connecting failed{where}.\n{escape(message)}"),
        context("Fix it and run `/cloudaudit connect` again."),
    ]
