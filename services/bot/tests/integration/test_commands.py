"""Every `/cloudaudit` subcommand, end to end: signed command in, what the person sees out."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

from bot_support import (
    ADMIN,
    ALERTS,
    AWS_ACCOUNT,
    MEMBER,
    OWNER,
    SIGNING_SECRET,
    VIEWER,
    audited,
    audits,
    blocks_text,
    channel_message,
    reply_to,
    visible,
)

from cloudaudit.common.clock import utcnow
from cloudaudit.common.events import anomaly, cost, recommendation
from cloudaudit.common.events.identity import Role
from cloudaudit.common.testing import eventually
from cloudaudit.common.testing_people import SlackWorkspace, bus_ask


async def test_accounts_lists_status_sync_and_cost_explorer_spend(bot, ingest):
    await bot.team()
    response = await bot.driver.command("accounts", user=VIEWER)
    assert response.status == 200 and response.text == ""
    message = await reply_to(bot.slack, VIEWER, "production")
    text = visible(message)
    assert AWS_ACCOUNT in text and "connected" in text
    assert "12 requests, $0.12" in text
    assert ingest.requests[cost.RPC_SPEND] == []


async def test_spend_uploads_a_png_chart_and_posts_a_table(bot, ingest):
    await bot.team()
    response = await bot.driver.command("spend 30d by region", user=MEMBER, channel=ALERTS)
    assert response.status == 200
    table = await channel_message(bot.slack, ALERTS, "Total")
    request = ingest.requests[cost.RPC_SPEND][-1]
    assert request.group_by is cost.SpendGroupBy.REGION
    assert request.end - request.start == timedelta(days=30)
    assert "AmazonEC2" in visible(table) and "$3,615.00" in visible(table)  # 120.50 x 30 days
    assert "Chart posted above" in visible(table)
    # The current external upload API, in order: URL, bytes, completion into the channel.
    methods = [
        c.method
        for c in bot.slack.calls
        if c.method
        in ("files.getUploadURLExternal", "upload", "files.completeUploadExternal", "files.upload")
    ]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    (uploaded,) = bot.slack.files.values()
    assert uploaded.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert uploaded.channel == ALERTS and uploaded.filename.endswith(".png")


async def test_spend_by_tag_asks_for_that_tag_key(bot, ingest):
    await bot.team()
    await bot.driver.command("spend mtd by tag:team", user=OWNER)
    await channel_message(bot.slack, "CALERTS", "Spend by tag team")
    request = ingest.requests[cost.RPC_SPEND][-1]
    assert request.group_by is cost.SpendGroupBy.TAG and request.tag_key == "team"


async def test_spend_chart_goes_by_dm_when_the_bot_is_not_in_the_channel(bot, ingest):
    await bot.team()
    bot.slack.remove_bot_from("CRANDOM")
    await bot.driver.command("spend 7d", user=MEMBER, channel="CRANDOM")
    table = await channel_message(bot.slack, "CRANDOM", "Total")
    assert "Chart sent to you in a DM" in visible(table)
    (shared,) = [f for f in bot.slack.files.values() if f.channel]
    assert shared.channel == "D" + MEMBER


async def test_anomalies_open_and_all(bot, analytics):
    await bot.team()
    summary = anomaly.AnomalySummary(
        anomaly_id=uuid4(),
        aws_account_id=AWS_ACCOUNT,
        service="AmazonEC2",
        region="us-east-1",
        usage_date=utcnow().date(),
        detected_at=utcnow(),
        kind=anomaly.AnomalyKind.SPIKE,
        severity=anomaly.Severity.HIGH,
        status=anomaly.AnomalyStatus.OPEN,
        impact=Decimal("812.40"),
        impact_pct=Decimal("270"),
    )
    await analytics.answer(
        anomaly.RPC_ANOMALIES, anomaly.AnomaliesRequest, anomaly.AnomaliesReply(anomalies=[summary])
    )
    await bot.driver.command("anomalies", user=VIEWER)
    message = await reply_to(bot.slack, VIEWER, "1 open anomaly")
    assert "AmazonEC2 in us-east-1" in visible(message) and "$812.40 (+270%)" in visible(message)
    await bot.driver.command("anomalies all", user=VIEWER)
    await eventually(lambda: _async(len(analytics.requests[anomaly.RPC_ANOMALIES]) == 2))
    first, second = analytics.requests[anomaly.RPC_ANOMALIES]
    assert first.status is anomaly.AnomalyStatus.OPEN and second.status is None


async def _async(value):
    return value


async def test_recs_lists_by_savings(bot, analytics):
    await bot.team()

    def rec(title: str, savings: str) -> recommendation.RecommendationSummary:
        return recommendation.RecommendationSummary(
            recommendation_id=uuid4(),
            aws_account_id=AWS_ACCOUNT,
            resource_id="vol-1",
            rec_type="unattached_ebs",
            title=title,
            description="d",
            estimated_monthly_savings=Decimal(savings),
            confidence=Decimal("0.9"),
            status=recommendation.RecommendationStatus.OPEN,
            created_at=utcnow(),
        )

    await analytics.answer(
        recommendation.RPC_RECOMMENDATIONS,
        recommendation.RecommendationsRequest,
        recommendation.RecommendationsReply(
            recommendations=[
                rec("Delete unattached volume", "8.00"),
                rec("Stop idle instance", "140.16"),
            ]
        ),
    )
    await bot.driver.command("recs", user=MEMBER)
    message = await reply_to(bot.slack, MEMBER, "2 recommendations")
    text = visible(message)
    assert text.index("Stop idle instance") < text.index("Delete unattached volume")
    assert "open ones save $148.16/month" in text


async def test_team_shows_roles_and_only_managers_get_role_pickers(bot):
    await bot.team()
    await bot.driver.command("team", user=VIEWER)
    seen_by_viewer = await reply_to(bot.slack, VIEWER, "Team: 4 members")
    assert "static_select" not in blocks_text(seen_by_viewer.blocks)
    await bot.driver.command("team", user=OWNER)
    seen_by_owner = await reply_to(bot.slack, OWNER, "Team: 4 members")
    text = visible(seen_by_owner)
    assert "static_select" in text and f"<@{VIEWER}>" in text and "*viewer*" in text


async def test_owner_changes_a_role_from_the_team_list(bot):
    users = await bot.team()
    await bot.driver.command("team", user=OWNER)
    listing = await reply_to(bot.slack, OWNER, "Team: 4 members")
    member_block = next(
        b for b in listing.blocks if b.get("block_id") == f"member:{users[MEMBER].user_id}"
    )
    await bot.driver.press(
        type(listing)(**{**listing.__dict__, "blocks": [member_block]}),
        "team_role",
        user=OWNER,
        option_value="Admin",
    )
    await reply_to(bot.slack, OWNER, "is now *admin*")
    assert (await bot.enrol(MEMBER)).role is Role.ADMIN


async def test_a_member_cannot_change_roles(bot):
    users = await bot.team()
    await bot.driver.command("team", user=OWNER)
    listing = await reply_to(bot.slack, OWNER, "Team: 4 members")
    viewer_block = next(
        b for b in listing.blocks if b.get("block_id") == f"member:{users[VIEWER].user_id}"
    )
    message = type(listing)(**{**listing.__dict__, "blocks": [viewer_block]})
    await bot.driver.press(message, "team_role", user=MEMBER, option_value="Owner")
    refusal = await reply_to(bot.slack, MEMBER, "Sorry")
    assert "only owners and admins can change team membership" in visible(refusal)
    assert (await bot.enrol(VIEWER)).role is Role.VIEWER


async def test_alerts_here_sets_the_channel_and_is_audited(bot):
    await bot.team()
    await bot.driver.command("alerts here", user=ADMIN, channel="CFINOPS")
    confirmation = await channel_message(bot.slack, "CFINOPS", "now go to <#CFINOPS>")
    assert confirmation.ephemeral_for is None
    record = await audited(bot.bus, "alerts.channel_set")
    assert record.details == {"channel_id": "CFINOPS"}
    assert record.user_id == bot.users[ADMIN].user_id
    async with bot.deps.uow() as uow:
        assert (await uow.repo.team(bot.team_id)).alert_channel_id == "CFINOPS"


async def test_a_viewer_cannot_move_the_alerts(bot):
    await bot.team()
    await bot.driver.command("alerts here", user=VIEWER, channel="CRANDOM")
    refusal = await reply_to(bot.slack, VIEWER, "Sorry")
    assert "only owners and admins can configure alerts; you are a viewer" in visible(refusal)
    async with bot.deps.uow() as uow:
        assert (await uow.repo.team(bot.team_id)).alert_channel_id is None


async def test_alerts_digest_uses_the_hour_and_the_setters_time_zone(bot):
    await bot.team()
    await bot.driver.command("alerts digest weekly at 8", user=OWNER)
    confirmation = await channel_message(bot.slack, ALERTS, "weekly spend digest")
    assert "every Monday at 08:00 (Europe/Berlin)" in visible(confirmation)
    async with bot.deps.uow() as uow:
        team = await uow.repo.team(bot.team_id)
    assert (team.digest, team.digest_hour, team.time_zone) == ("weekly", 8, "Europe/Berlin")
    await audited(bot.bus, "alerts.digest_set")
    await bot.driver.command("alerts digest off", user=OWNER)
    await channel_message(bot.slack, ALERTS, "Digests are off")


async def test_expect_records_planned_spend_with_analytics(bot, analytics):
    await bot.team()
    await bot.driver.command('expect "Amazon EC2" $120 14d', user=ADMIN)
    await channel_message(bot.slack, ALERTS, "Amazon EC2 is expected to cost up to $120.00")
    request = analytics.requests[anomaly.RPC_EXPECT][-1]
    assert request.service == "Amazon EC2" and request.amount == Decimal("120.00")
    assert (request.end - request.start).days == 14
    # who asked comes from identity's signed token, not from the request body
    assert analytics.actors[anomaly.RPC_EXPECT][-1].user_id == bot.users[ADMIN].user_id
    # analytics audits the plan; the bot changed nothing of its own, so it records nothing
    assert await audits(bot.bus) == []


async def test_settings_shows_thresholds_and_saves_them_from_a_modal(bot, analytics):
    await bot.team()
    await bot.driver.command("settings", user=OWNER)
    shown = await reply_to(bot.slack, OWNER, "Anomaly alert thresholds")
    assert "*$25.00* a day and *20%*" in visible(shown)
    await bot.driver.press(shown, "Change thresholds", user=OWNER)
    view = await eventually(lambda: _async(bot.slack.views[-1] if bot.slack.views else None))
    bad = await bot.driver.submit(view, {"min_impact": "lots", "min_impact_pct": "15"}, user=OWNER)
    assert bad.json() == {
        "response_action": "errors",
        "errors": {"min_impact": "lots is not a number"},
    }
    good = await bot.driver.submit(view, {"min_impact": "50", "min_impact_pct": "15"}, user=OWNER)
    assert good.status == 200 and good.text == ""
    await reply_to(bot.slack, OWNER, "*$50.00* a day and *15%*")
    saved = analytics.requests[anomaly.RPC_TEAM_SETTINGS][-1]
    assert (saved.min_impact, saved.min_impact_pct) == (Decimal("50"), Decimal("15"))
    assert analytics.actors[anomaly.RPC_TEAM_SETTINGS][-1].user_id == bot.users[OWNER].user_id
    assert await audits(bot.bus) == []  # analytics audits the change


async def test_viewer_sees_settings_without_the_change_button(bot, analytics):
    await bot.team()
    await bot.driver.command("settings", user=VIEWER)
    shown = await reply_to(bot.slack, VIEWER, "Anomaly alert thresholds")
    assert "Change thresholds" not in visible(shown)


async def test_a_service_that_is_down_is_named_with_what_to_do(bot):
    await bot.team()  # no ingest running, no stand-in either
    await bot.driver.command("accounts", user=MEMBER)
    answer = await reply_to(bot.slack, MEMBER, "not answering")
    assert "The cost data (ingest) service is not answering right now" in visible(answer)
    assert "cloudaudit status" in visible(answer)


async def _audit_entries_in_identity(bot, action: str, count: int = 1) -> None:
    """Wait until identity has appended the bot's audit events (they travel over JetStream)."""
    from cloudaudit.common.bus import rpc
    from cloudaudit.common.events.identity import (
        RPC_AUDIT_LOG,
        Audience,
        AuditLogReply,
        AuditLogRequest,
    )

    async def recorded() -> bool:
        reply = await rpc(
            bot.bus.broker,
            bot.bus.names,
            RPC_AUDIT_LOG,
            AuditLogRequest(actor_token=bot.users[OWNER].tokens[Audience.IDENTITY], limit=200),
            AuditLogReply,
        )
        return [e.action for e in reply.entries].count(action) >= count

    await eventually(recorded, timeout=30)


async def test_audit_shows_owners_who_did_what_and_when_including_refused_attempts(bot):
    await bot.team()
    await bot.driver.command("alerts here", user=ADMIN, channel="CFINOPS")
    await bot.driver.command("alerts here", user=VIEWER, channel="CRANDOM")  # refused
    await reply_to(bot.slack, VIEWER, "Sorry")
    await bot.driver.command("team", user=MEMBER)  # only looking: no refusal on record
    await reply_to(bot.slack, MEMBER, "Team: 4 members")
    await _audit_entries_in_identity(bot, "alerts.channel_set")
    await _audit_entries_in_identity(bot, "authorization.refused")

    await bot.driver.command("audit --limit 5", user=OWNER)
    shown = await reply_to(bot.slack, OWNER, "Audit log: the latest 5 entries")
    lines = [b["text"]["text"] for b in shown.blocks if b.get("type") == "section"][1:]
    assert len(lines) == 5  # of 10: team created, owner named, 3 invited, 3 joined, these two
    (refused,) = [line for line in lines if "was refused" in line]
    assert f"<@{VIEWER}>" in refused
    assert "only owners and admins can configure alerts; you are a viewer" in refused
    assert "<!date^" in refused  # when, shown in the reader's time zone
    (moved,) = [line for line in lines if "moved the alerts" in line]
    assert f"<@{ADMIN}>" in moved and "channel CFINOPS" in moved
    assert any("joined" in line and f"<@{VIEWER}>" in line for line in lines)
    # readable: no raw action names, one line per action
    assert not any(re.search(r"\b[a-z]+\.[a-z_]+\b", line.split("|")[-1]) for line in lines)
    assert all("\n" not in line for line in lines)
    assert not any(f"<@{MEMBER}>" in line and "refused" in line for line in lines)
    assert "Older entries: `/cloudaudit audit --limit N`" in visible(shown)
    await bot.driver.command("audit", user=OWNER)
    everything = await reply_to(bot.slack, OWNER, "Audit log: the latest 10 entries")
    assert "That is the whole log of this team" in visible(everything)


async def test_viewers_and_members_cannot_read_the_audit_log(bot):
    await bot.team()
    for user, role in ((VIEWER, "viewer"), (MEMBER, "member")):
        await bot.driver.command("audit", user=user)
        refusal = await reply_to(bot.slack, user, "Sorry")
        assert f"only owners and admins can read the audit log; you are a {role}" in visible(
            refusal
        )
        assert "Audit log" not in " ".join(
            visible(m) for m in bot.slack.messages if m.ephemeral_for == user
        )


async def test_a_user_of_another_workspace_sees_nothing_of_team_a(bot):
    from cloudaudit.bot.driver import SlackDriver

    await bot.team()
    await bot.driver.command("alerts here", user=ADMIN, channel="CFINOPS")
    await _audit_entries_in_identity(bot, "alerts.channel_set")
    other = SlackDriver(bot.driver.events_url, SIGNING_SECRET, bot.slack, team_id="T0OTHER")
    await SlackWorkspace(bus_ask(bot.bus.broker, bot.bus.names), "T0OTHER").install("UOTHER")
    # one bot token answers users.info here: say UOTHER's home is T0OTHER, as Slack would
    bot.slack.set_user("UOTHER", home_team="T0OTHER")
    async with other:
        await other.command("audit", user="UOTHER")
        shown = await reply_to(bot.slack, "UOTHER", "Audit log")
    text = visible(shown)
    assert "<@UOTHER>" in text and "became the owner" in text
    for someone in (OWNER, ADMIN, MEMBER, VIEWER):
        assert f"<@{someone}>" not in text
    assert "alerts.channel_set" not in text and "member.role_changed" not in text


async def test_audit_limit_must_be_a_small_number(bot):
    await bot.team()
    for text in ("audit --limit 0", "audit --limit lots", "audit --limit 49", "audit everything"):
        response = await bot.driver.command(text, user=OWNER)
        assert response.status == 200
        assert "usage: /cloudaudit audit [--limit N] (N from 1 to 48)" in response.text, text
