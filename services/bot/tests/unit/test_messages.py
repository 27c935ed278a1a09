"""Block Kit views are pure functions of their data: each one against its reviewed snapshot,
plus the Slack limits every message must respect."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from bot_support import AWS_ACCOUNT, assert_snapshot

from cloudaudit.bot.domain.digest import Mover, period_for
from cloudaudit.bot.views import accounts, anomalies, digest, help, recommendations
from cloudaudit.bot.views import spend as spend_views
from cloudaudit.bot.views import team as team_views
from cloudaudit.bot.views.common import BLOCKS_MAX, with_status
from cloudaudit.common.events.account import (
    AccountStatus,
    AccountSummary,
    ConnectStep,
    ExternalIdReply,
)
from cloudaudit.common.events.anomaly import (
    AnomalyDetected,
    AnomalyKind,
    AnomalyStatus,
    AnomalySummary,
    AnomalyUpdated,
    Feedback,
    RootCause,
    Severity,
)
from cloudaudit.common.events.cost import SpendGroup, SpendPoint, SpendReply
from cloudaudit.common.events.identity import Member, Role
from cloudaudit.common.events.recommendation import (
    Decision,
    RecommendationCreated,
    RecommendationRealized,
    RecommendationStatus,
    RecommendationSummary,
)

TEAM = UUID("00000000-0000-4000-8000-000000000001")
ANOMALY = UUID("00000000-0000-4000-8000-0000000000a1")
REC = UUID("00000000-0000-4000-8000-0000000000b1")
AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def detected(**overrides) -> AnomalyDetected:
    values = dict(
        event_id=UUID("00000000-0000-4000-8000-0000000000e1"),
        occurred_at=AT,
        team_id=TEAM,
        anomaly_id=ANOMALY,
        account_id=UUID("00000000-0000-4000-8000-0000000000c1"),
        aws_account_id=AWS_ACCOUNT,
        service="AmazonEC2",
        region="us-east-1",
        usage_date=date(2026, 11, 24),
        kind=AnomalyKind.SPIKE,
        severity=Severity.CRITICAL,
        actual_cost=Decimal("1112.40"),
        expected_cost=Decimal("300"),
        impact=Decimal("812.40"),
        impact_pct=Decimal("270.8"),
        root_causes=[
            RootCause(dimension="resource", name="i-0abc", contribution=Decimal("52.4")),
            RootCause(
                dimension="usage_type", name="BoxUsage:p3.2xlarge", contribution=Decimal("760")
            ),
        ],
    )
    values.update(overrides)
    return AnomalyDetected(**values)


def created(**overrides) -> RecommendationCreated:
    values = dict(
        event_id=UUID("00000000-0000-4000-8000-0000000000e2"),
        occurred_at=AT,
        team_id=TEAM,
        recommendation_id=REC,
        account_id=UUID("00000000-0000-4000-8000-0000000000c1"),
        aws_account_id=AWS_ACCOUNT,
        resource_id="vol-0abc<script>",
        resource_type="ebs_volume",
        rec_type="unattached_ebs",
        title="Delete unattached gp2 volume",
        description="Unattached for 31 days & costs $8.00/month.",
        action="Snapshot, then delete.",
        estimated_monthly_savings=Decimal("8"),
        confidence=Decimal("0.95"),
        text_source="llm",
    )
    values.update(overrides)
    return RecommendationCreated(**values)


def test_anomaly_alert_snapshot():
    assert_snapshot("anomaly_alert", anomalies.anomaly_alert(detected()))


def test_anomaly_alert_for_the_account_total_without_root_cause():
    blocks = anomalies.anomaly_alert(
        detected(service=None, region=None, root_causes=[], console_url="https://console.example/x")
    )
    assert_snapshot("anomaly_alert_total", blocks)


def test_anomaly_resolved_update_snapshot():
    update = AnomalyUpdated(
        event_id=UUID(int=7),
        occurred_at=AT,
        team_id=TEAM,
        anomaly_id=ANOMALY,
        aws_account_id=AWS_ACCOUNT,
        status=AnomalyStatus.RESOLVED,
        impact=Decimal("1204.9"),
    )
    line = anomalies.update_status_line(update, "<@U1>")
    text, reply = anomalies.anomaly_thread_reply(update, "<@U1>")
    assert_snapshot(
        "anomaly_resolved",
        {
            "root": with_status(anomalies.anomaly_alert(detected()), line, keep_buttons=False),
            "thread": reply,
            "text": text,
        },
    )


def test_anomaly_list_snapshot():
    summary = AnomalySummary(
        anomaly_id=ANOMALY,
        aws_account_id=AWS_ACCOUNT,
        service="AmazonRDS",
        region="eu-west-1",
        usage_date=date(2026, 11, 20),
        detected_at=AT,
        kind=AnomalyKind.LEVEL_SHIFT,
        severity=Severity.MEDIUM,
        status=AnomalyStatus.OPEN,
        impact=Decimal("95.5"),
        impact_pct=Decimal("41.2"),
    )
    assert_snapshot("anomaly_list", anomalies.anomaly_list([summary], "open"))
    assert "No open anomalies" in anomalies.anomaly_list([], "open")[0]["text"]["text"]


def test_recommendation_alert_snapshot_escapes_text_from_outside():
    blocks = recommendations.recommendation_alert(created())
    assert_snapshot("recommendation_alert", blocks)
    assert "<script>" not in str(blocks) and "&lt;script&gt;" in str(blocks)


def test_recommendation_decided_and_realized_snapshots():
    line = recommendations.decision_line(Decision.SNOOZE, "<@UADMIN>", AT, None, date(2026, 12, 25))
    realized = RecommendationRealized(
        event_id=UUID(int=9),
        occurred_at=AT,
        team_id=TEAM,
        recommendation_id=REC,
        aws_account_id=AWS_ACCOUNT,
        realized_monthly_savings=Decimal("7.9"),
    )
    assert_snapshot(
        "recommendation_decided",
        {
            "root": recommendations.decided(recommendations.recommendation_alert(created()), line),
            "realized": recommendations.realized_reply(realized)[1],
        },
    )


def test_dismiss_modal_snapshot():
    assert_snapshot(
        "dismiss_modal",
        recommendations.dismiss_modal(str(REC), "Delete it", "C1", "1700000000.000100"),
    )


def test_recommendation_list_snapshot():
    summary = RecommendationSummary(
        recommendation_id=REC,
        aws_account_id=AWS_ACCOUNT,
        resource_id="i-1",
        rec_type="idle_ec2",
        title="Stop idle instance",
        description="d",
        estimated_monthly_savings=Decimal("140.16"),
        confidence=Decimal("0.9"),
        status=RecommendationStatus.OPEN,
        created_at=AT,
    )
    assert_snapshot("recommendation_list", recommendations.recommendation_list([summary], "open"))


def test_spend_table_snapshot_groups_the_tail():
    groups = [
        SpendGroup(
            key=f"Service{i:02d}",
            total=Decimal(100 - i),
            points=[SpendPoint(period=date(2026, 11, 1), amount=Decimal(100 - i))],
        )
        for i in range(13)
    ]
    reply = SpendReply(total=sum((g.total for g in groups), Decimal(0)), groups=groups)
    blocks = spend_views.spend_table(reply, "November 2026 to date", "service", "Chart above.")
    assert_snapshot("spend_table", blocks)
    assert "3 more" in str(blocks)


def test_accounts_and_connect_snapshots():
    summary = AccountSummary(
        account_id=UUID(int=3),
        aws_account_id=AWS_ACCOUNT,
        name="production",
        status=AccountStatus.FAILED,
        last_sync_at=AT,
        last_error="AccessDenied on ce:GetCostAndUsage",
        ce_requests_this_month=31,
        ce_cost_this_month=Decimal("0.31"),
    )
    external = ExternalIdReply(
        external_id="ca-ext-1",
        principal_arn="arn:aws:iam::1:root",
        quick_create_url="https://console.aws.amazon.com/cf",
    )
    assert_snapshot(
        "accounts_and_connect",
        {
            "list": accounts.accounts_list([summary]),
            "modal": accounts.connect_modal(external, "C1"),
            "failed": accounts.connect_failed(ConnectStep.COST_EXPLORER, "Enable Cost Explorer."),
            "succeeded": accounts.connect_succeeded(AWS_ACCOUNT, "production"),
        },
    )


def test_team_list_snapshot_has_pickers_only_for_managers():
    members = [
        Member(
            user_id=UUID(int=1),
            email="o@example.com",
            display_name="Olivia",
            role=Role.OWNER,
            slack_user_id="U1",
        ),
        Member(user_id=UUID(int=2), email=None, display_name="Vic", role=Role.VIEWER),
    ]
    managed = team_views.team_list(members, can_manage=True)
    assert_snapshot("team_list", managed)
    assert "static_select" not in str(team_views.team_list(members, can_manage=False))
    for block in managed:
        accessory = block.get("accessory")
        if accessory:  # Slack rejects an initial_option that is not one of the options
            assert accessory["initial_option"] in accessory["options"]


def test_settings_and_help_snapshots():
    assert_snapshot(
        "settings",
        {
            "view": team_views.settings_view(Decimal("25"), Decimal("20"), can_edit=True),
            "modal": team_views.settings_modal(Decimal("25"), None, "C1"),
        },
    )
    assert_snapshot("help", help.help_message())
    assert_snapshot("problem", help.problem_message("I don't know `spedn`.", "spend"))


def test_digest_snapshot():
    period = period_for("daily", date(2026, 11, 25))
    movers = [
        Mover("AmazonEC2", Decimal("200"), Decimal("120")),
        Mover("AWSLambda", Decimal("5"), Decimal("0")),
        Mover("AmazonRDS", Decimal("30"), Decimal("40")),
    ]
    blocks = digest.digest_message("daily", period, Decimal("243"), Decimal("160"), movers, [], [])
    assert_snapshot("digest_daily", blocks)


@pytest.mark.parametrize(
    "blocks",
    [
        anomalies.anomaly_alert(
            detected(
                root_causes=[
                    RootCause(dimension="resource", name=f"i-{n:04d}" * 30, contribution=Decimal(n))
                    for n in range(40)
                ]
            )
        ),
        recommendations.recommendation_alert(created(title="T" * 400, description="D" * 5000)),
    ],
)
def test_messages_respect_slack_limits(blocks):
    assert len(blocks) <= BLOCKS_MAX
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        assert len(text) <= (150 if block["type"] == "header" else 3000)
        buttons = [e for e in block.get("elements") or [] if e.get("type") == "button"]
        for element in buttons:
            assert len(element["text"]["text"]) <= 75 and len(element.get("value", "")) <= 2000
        action_ids = [e["action_id"] for e in buttons]
        assert len(action_ids) == len(set(action_ids)), "action_ids must be unique in a block"


def test_feedback_words_cover_every_feedback():
    assert set(anomalies.FEEDBACK_WORDS) == set(Feedback)


def test_a_template_card_shows_each_figure_once_in_fields():
    """The template's description restates the facts: the card shows them once, as fields,
    with the action and what to check before acting."""
    from bot_support import recommendation_created

    from cloudaudit.common.events.recommendation import RecommendationFact

    facts = [
        RecommendationFact(name="Average CPU", text="1.8% over 14 days"),
        RecommendationFact(name="Peak CPU", text="4.0%"),
        RecommendationFact(name="Instance", text="m5.xlarge, running 212 days"),
        RecommendationFact(name="Price", text="$0.192 per hour (from your cost report)"),
    ]
    event = recommendation_created(
        UUID(int=7),
        recommendation_id=UUID(int=8),
        account_id=UUID(int=9),
        text_source="template",
        title="Idle EC2 instance: save $140.16 a month",
        description="Stop i-0idle42 to save $140.16 a month (confidence 92%). Average CPU: "
        "1.8% over 14 days; Peak CPU: 4.0%; Instance: m5.xlarge, running 212 days.",
        facts=facts,
        risks=["it may be a standby that only wakes up at month end"],
    )
    blocks = recommendations.recommendation_alert(event)
    shown = json.dumps([b for b in blocks if b["type"] != "actions"])
    for fact in facts:
        assert shown.count(fact.text.replace('"', '\\"')) == 1, fact.name
    assert shown.count("$140.16") == 2  # the heading and the savings field, nothing else
    assert blocks[0]["text"]["text"] == "Idle EC2 instance: save $140.16 a month"
    assert "standby" in shown and "Suggested action" in shown
    assert_snapshot("recommendation_template", blocks)
