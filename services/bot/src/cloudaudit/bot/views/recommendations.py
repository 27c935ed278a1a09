"""Recommendation views: the proactive post with Approve/Dismiss/Snooze, decisions, lists."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from cloudaudit.bot.views.common import (
    FIELDS_MAX,
    Block,
    actions,
    button,
    confirm,
    context,
    escape,
    fields,
    header,
    section,
    status_block,
    usd,
    when,
    with_status,
)
from cloudaudit.common.events.recommendation import (
    Decision,
    RecommendationCreated,
    RecommendationRealized,
    RecommendationStatus,
    RecommendationSummary,
)

ACTION_APPROVE = "rec_approve"
ACTION_DISMISS = "rec_dismiss"
ACTION_SNOOZE = "rec_snooze"
VIEW_DISMISS = "rec_dismiss_modal"
SNOOZE_DAYS = (7, 30, 90)

DECISION_ICON = {
    Decision.APPROVE: ":white_check_mark: Approved",
    Decision.DISMISS: ":x: Dismissed",
    Decision.SNOOZE: ":zzz: Snoozed",
    Decision.REOPEN: ":arrows_counterclockwise: Reopened",
}


def confidence(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('1'))}%"


def recommendation_text(event: RecommendationCreated) -> str:
    return (
        f"Save about {usd(event.estimated_monthly_savings)}/month: {escape(event.title)} "
        f"({escape(event.aws_account_id)})"
    )


def _heading(event: RecommendationCreated) -> str:
    """The title, with the monthly savings in front unless the title already says them."""
    amount = usd(event.estimated_monthly_savings)
    return event.title if amount in event.title else f"Save {amount}/month: {event.title}"


def _facts(event: RecommendationCreated) -> list[Block]:
    """The figures once, as fields: savings, confidence, where, then each computed fact."""
    pairs = [
        ("Estimated savings", f"{usd(event.estimated_monthly_savings)} per month"),
        ("Confidence", confidence(event.confidence)),
        ("Account", f"`{escape(event.aws_account_id)}`"),
        ("Resource", f"`{escape(event.resource_id)}` ({escape(event.resource_type)})"),
        *[
            (escape(fact.name), escape(fact.text))
            for fact in event.facts
            if usd(event.estimated_monthly_savings) not in fact.text  # the field above says it
        ],
    ]
    return [fields(pairs[i : i + FIELDS_MAX]) for i in range(0, len(pairs), FIELDS_MAX)]


def recommendation_alert(event: RecommendationCreated) -> list[Block]:
    value = {"r": str(event.recommendation_id)}
    # A template's description restates the facts the fields show: only a written
    # explanation (or a card without facts) is worth its own paragraph.
    explained = event.text_source == "llm" or not event.facts
    action = f"*Suggested action*\n{escape(event.action)}"
    action += "".join(f"\n:warning: {escape(risk)}" for risk in event.risks)
    blocks: list[Block] = [
        header(_heading(event)),
        *([section(escape(event.description))] if explained else []),
        *_facts(event)[:3],
        section(action),
    ]
    if event.text_source == "llm":
        blocks.append(
            context(
                ":robot_face: Explanation written by a language model from the "
                "figures above; the figures are computed, not generated."
            )
        )
    blocks.append(
        actions(
            f"rec:{event.recommendation_id}",
            button(
                "Approve",
                ACTION_APPROVE,
                value,
                style="primary",
                confirm=confirm(
                    "Approve this change?",
                    f"Approve *{escape(event.title)}*? It is recorded in the audit "
                    "log under your name.",
                    "Approve",
                ),
            ),
            button("Dismiss", ACTION_DISMISS, value, style="danger"),
            *[
                button(f"Snooze {d}d", f"{ACTION_SNOOZE}:{d}", {**value, "d": d})
                for d in SNOOZE_DAYS
            ],
        )
    )
    blocks.append(status_block(":hourglass_flowing_sand: Open: waiting for an owner or admin"))
    return blocks


def decision_line(
    decision: Decision,
    who: str,
    at: datetime,
    reason: str | None = None,
    snoozed_until: date | None = None,
) -> str:
    line = f"{DECISION_ICON[decision]} by {who} {when(at)}"
    if snoozed_until:
        line += f" until {snoozed_until:%b %d, %Y}"
    if reason:
        line += f": “{escape(reason)}”"
    return line


def decided(blocks: list[Block], line: str, reopened: bool = False) -> list[Block]:
    """The post updated in place: who decided and when; no more buttons unless reopened."""
    return with_status(blocks, line, keep_buttons=reopened)


def realized_reply(event: RecommendationRealized) -> tuple[str, list[Block]]:
    text = (
        f":moneybag: Realised savings: {usd(event.realized_monthly_savings)} per month "
        "(measured on the bill)."
    )
    return text, [section(text)]


def dismiss_modal(
    recommendation_id: str, title: str, channel_id: str | None, message_ts: str | None
) -> dict[str, object]:
    meta = {"r": recommendation_id, "c": channel_id, "t": message_ts}
    return {
        "type": "modal",
        "callback_id": VIEW_DISMISS,
        "private_metadata": json.dumps(meta, separators=(",", ":")),
        "title": {"type": "plain_text", "text": "Dismiss recommendation"},
        "submit": {"type": "plain_text", "text": "Dismiss"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"*{escape(title)}*"),
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Why dismiss it?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "min_length": 3,
                    "max_length": 1000,
                    "placeholder": {
                        "type": "plain_text",
                        "text": "e.g. this instance runs a monthly batch",
                    },
                },
            },
        ],
    }


def recommendation_list(recs: list[RecommendationSummary], which: str) -> list[Block]:
    if not recs:
        return [
            section(f":sparkles: No {'open ' if which == 'open' else ''}recommendations right now.")
        ]
    ordered = sorted(recs, key=lambda r: -r.estimated_monthly_savings)
    total = sum(
        (r.estimated_monthly_savings for r in ordered if r.status is RecommendationStatus.OPEN),
        Decimal(0),
    )
    blocks: list[Block] = [
        section(
            f"*{len(recs)} recommendation{'s' if len(recs) != 1 else ''}*"
            + (f" · open ones save {usd(total)}/month" if total else "")
        )
    ]
    for r in ordered[:20]:
        blocks.append(
            section(
                f"*{escape(r.title)}* · {usd(r.estimated_monthly_savings)}/month · "
                f"{confidence(r.confidence)} confidence\n`{escape(r.aws_account_id)}` · "
                f"`{escape(r.resource_id)}` · {r.status.value}"
            )
        )
    return blocks
