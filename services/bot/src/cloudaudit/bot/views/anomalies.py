"""Anomaly views: the proactive alert (with root cause and feedback buttons), lists, updates."""

from __future__ import annotations

from urllib.parse import quote

from cloudaudit.bot.views.common import (
    SEVERITY_ICON,
    Block,
    actions,
    button,
    escape,
    fields,
    header,
    link_button,
    pct,
    section,
    status_block,
    table,
    usd,
)
from cloudaudit.common.events.anomaly import (
    AnomalyDetected,
    AnomalyStatus,
    AnomalySummary,
    AnomalyUpdated,
    Feedback,
)

ACTION_FEEDBACK = "anomaly_feedback"
ACTION_CONSOLE = "anomaly_console"
ROOT_CAUSES_SHOWN = 5
COST_EXPLORER = "https://us-east-1.console.aws.amazon.com/costmanagement/home#/cost-explorer"

FEEDBACK_LABELS = {
    Feedback.USEFUL: "Useful",
    Feedback.NOT_USEFUL: "Not useful",
    Feedback.EXPECTED: "Expected spend",
}
FEEDBACK_WORDS = {
    Feedback.USEFUL: "useful",
    Feedback.NOT_USEFUL: "not useful",
    Feedback.EXPECTED: "expected spend",
}
STATUS_WORDS = {
    AnomalyStatus.OPEN: ":rotating_light: Open",
    AnomalyStatus.RESOLVED: ":white_check_mark: Resolved",
    AnomalyStatus.EXPECTED: ":calendar: Expected spend",
    AnomalyStatus.DISMISSED: ":zipper_mouth_face: Dismissed",
}


def what(service: str | None, region: str | None) -> str:
    if not service:
        return "total spend"
    return f"{service} in {region}" if region and region != "global" else service


def console_url(event: AnomalyDetected) -> str:
    if event.console_url:
        return event.console_url
    start = event.usage_date.isoformat()
    query = f"?startDate={start}&endDate={start}&granularity=Daily"
    if event.service:
        query += f"&filter=Service:{quote(event.service)}"
    return COST_EXPLORER + query


def alert_text(event: AnomalyDetected) -> str:
    """Notification text (push/lock screen): the whole story in one line."""
    return (
        f"{event.severity.value.title()} cost anomaly: {escape(what(event.service, event.region))} "
        f"in {escape(event.aws_account_id)} on {event.usage_date:%b %d}, "
        f"{usd(event.actual_cost)} vs {usd(event.expected_cost)} expected "
        f"({pct(event.impact_pct)})"
    )


def anomaly_alert(event: AnomalyDetected) -> list[Block]:
    icon = SEVERITY_ICON.get(event.severity.value, "")
    blocks: list[Block] = [
        header(f"Cost anomaly: {what(event.service, event.region)}"),
        section(
            f"{icon} *{event.severity.value.title()}* {event.kind.value.replace('_', ' ')} "
            f"in account `{escape(event.aws_account_id)}` on *{event.usage_date:%a %b %d}*: "
            f"*{usd(event.actual_cost)}* spent, {usd(event.expected_cost)} expected."
        ),
        fields(
            [
                ("Impact", f"{usd(event.impact)} ({pct(event.impact_pct)})"),
                ("Severity", event.severity.value.title()),
            ]
        ),
    ]
    if event.root_causes:
        causes = sorted(event.root_causes, key=lambda c: -c.contribution)[:ROOT_CAUSES_SHOWN]
        rows = [(f"{c.dimension}: {c.name}", usd(c.contribution)) for c in causes]
        blocks.append(section("*Root cause* (share of the excess)\n" + table(rows, key_width=40)))
    value = {"a": str(event.anomaly_id)}
    blocks.append(
        actions(
            f"anomaly:{event.anomaly_id}",
            # action_ids must be unique within a block (Slack rejects the message otherwise).
            *[
                button(
                    FEEDBACK_LABELS[f],
                    f"{ACTION_FEEDBACK}:{f.value}",
                    {**value, "f": f.value},
                    style="primary" if f is Feedback.USEFUL else None,
                )
                for f in Feedback
            ],
            link_button("Open in AWS", ACTION_CONSOLE, console_url(event)),
        )
    )
    blocks.append(status_block(STATUS_WORDS[AnomalyStatus.OPEN]))
    return blocks


def update_status_line(update: AnomalyUpdated, who: str | None) -> str:
    line = STATUS_WORDS.get(update.status, update.status.value)
    if update.feedback:
        line += f" · marked {FEEDBACK_WORDS[update.feedback]}"
    if who:
        line += f" by {who}"
    return line + f" · impact so far {usd(update.impact)}"


def anomaly_thread_reply(update: AnomalyUpdated, who: str | None) -> tuple[str, list[Block]]:
    if update.feedback:
        text = f"{who or 'Someone'} marked this {FEEDBACK_WORDS[update.feedback]}."
    elif update.status is AnomalyStatus.RESOLVED:
        text = f"Resolved: spend is back to normal. Total impact {usd(update.impact)}."
    else:
        text = f"Now {update.status.value}; impact so far {usd(update.impact)}."
    if update.note:
        text += f"\n> {escape(update.note)}"
    return text, [section(text)]


def anomaly_list(anomalies: list[AnomalySummary], which: str) -> list[Block]:
    if not anomalies:
        return [
            section(
                f":white_check_mark: No {'open ' if which == 'open' else ''}anomalies. "
                "Alerts will appear in your alert channel as they are detected."
            )
        ]
    blocks: list[Block] = [
        section(
            f"*{len(anomalies)} {'open ' if which == 'open' else ''}"
            f"anomal{'y' if len(anomalies) == 1 else 'ies'}*"
        )
    ]
    for a in anomalies[:20]:
        icon = SEVERITY_ICON.get(a.severity.value, "")
        blocks.append(
            section(
                f"{icon} *{escape(what(a.service, a.region))}* · `{escape(a.aws_account_id)}` · {a.usage_date:%b %d}\n"
                f"Impact {usd(a.impact)} ({pct(a.impact_pct)}) · {a.kind.value.replace('_', ' ')} · "
                f"{a.status.value}"
            )
        )
    return blocks
