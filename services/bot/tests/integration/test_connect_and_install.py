"""Installing the app (OAuth round trip) and connecting an AWS account from Slack."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlparse
from uuid import uuid4

import aiohttp
from bot_support import (
    ADMIN,
    MEMBER,
    SIGNING_SECRET,
    audits,
    blocks_text,
    consumed,
    make_bot_settings,
    reply_to,
    start_bot,
    visible,
)
from sqlalchemy import text

from cloudaudit.bot.driver import SlackDriver
from cloudaudit.common.bus import publish_event
from cloudaudit.common.events import account
from cloudaudit.common.events.account import AccountConnected, ConnectStep
from cloudaudit.common.events.base import RpcError
from cloudaudit.common.testing import eventually
from cloudaudit.common.testing_people import SlackWorkspace, bus_ask

ROLE_ARN = "arn:aws:iam::210987654321:role/CloudAuditReadOnly"


async def _views(bot):
    return bot.slack.views[-1] if bot.slack.views else None


async def _open_connect(bot, user=ADMIN):
    await bot.driver.command("connect", user=user)
    return await eventually(lambda: _views(bot))


async def test_connect_shows_the_external_id_and_reports_the_validated_account(bot, ingest):
    await bot.team()
    await ingest.answer(
        account.RPC_CONNECT,
        account.ConnectAccountRequest,
        account.ConnectAccountReply(account_id=uuid4(), aws_account_id="210987654321"),
    )
    view = await _open_connect(bot)
    shown = blocks_text(view.view["blocks"])
    assert "ca-ext-7f3a9c" in shown and "quickcreate" in shown
    assert ingest.actors[account.RPC_EXTERNAL_ID][-1].team_id == bot.team_id

    wrong = await bot.driver.submit(
        view, {"role_arn": "arn:aws:iam::210987654321:user/ana"}, user=ADMIN
    )
    assert wrong.json()["errors"]["role_arn"].startswith("That is a user ARN")
    assert ingest.requests[account.RPC_CONNECT] == []

    done = await bot.driver.submit(view, {"role_arn": ROLE_ARN, "name": "staging"}, user=ADMIN)
    assert done.status == 200 and done.text == ""
    result = await reply_to(bot.slack, ADMIN, "Connected *staging* `210987654321`")
    assert result.channel == "D" + ADMIN or result.ephemeral_for == ADMIN
    request = ingest.requests[account.RPC_CONNECT][-1]
    assert request.role_arn == ROLE_ARN
    assert ingest.actors[account.RPC_CONNECT][-1].user_id == bot.users[ADMIN].user_id
    assert await audits(bot.bus) == []  # ingest audits the connection it makes


async def test_a_failed_connection_names_the_failing_step_and_the_fix(bot, ingest):
    await bot.team()
    await ingest.answer(
        account.RPC_CONNECT,
        account.ConnectAccountRequest,
        account.ConnectAccountReply(
            ok=False,
            failed_step=ConnectStep.ASSUME_ROLE,
            error=RpcError(
                code="role_not_assumable",
                message="The role does not trust CloudAudit's "
                "account with your ExternalId; update the "
                "trust policy from the template.",
            ),
        ),
    )
    view = await _open_connect(bot)
    await bot.driver.submit(view, {"role_arn": ROLE_ARN}, user=ADMIN)
    result = await reply_to(bot.slack, ADMIN, "Connecting failed")
    assert "while assuming the role (sts:AssumeRole with your ExternalId)" in visible(result)
    assert "update the trust policy" in visible(result)


async def test_a_connection_validated_later_is_reported_once_from_the_event(bot, ingest):
    await bot.team()
    await ingest.answer(
        account.RPC_CONNECT,
        account.ConnectAccountRequest,
        account.ConnectAccountReply(account_id=uuid4()),
    )
    view = await _open_connect(bot)
    await bot.driver.submit(view, {"role_arn": ROLE_ARN}, user=ADMIN)
    await reply_to(bot.slack, ADMIN, "Checking `arn:aws:iam::210987654321")
    connected = AccountConnected(
        team_id=bot.team_id,
        account_id=uuid4(),
        aws_account_id="210987654321",
        name="staging",
        connected_by=bot.users[ADMIN].user_id,
    )
    await publish_event(bot.bus.broker, bot.bus.names, account.ACCOUNT_CONNECTED, connected)
    await reply_to(bot.slack, ADMIN, "Connected *staging*")
    js = bot.bus.nc.jetstream()
    await js.publish(
        bot.bus.names.subject(account.ACCOUNT_CONNECTED),
        connected.model_dump_json().encode(),
        headers={"Nats-Msg-Id": "again"},
    )
    await consumed(bot.bus, "ACCOUNT", "bot-account-connected", 2)
    told = [m for m in bot.slack.messages if "Connected *staging*" in visible(m)]
    assert len(told) == 1


async def test_a_member_cannot_connect_accounts(bot, ingest):
    await bot.team()
    await bot.driver.command("connect", user=MEMBER)
    refusal = await reply_to(bot.slack, MEMBER, "Sorry")
    assert "only owners and admins can connect AWS accounts" in visible(refusal)
    assert bot.slack.views == []


async def test_oauth_install_round_trip_stores_the_installation_and_serves_the_workspace(
    local_slack, bus, start_service, settings, ingest
):
    await start_service("identity")
    harness = await start_bot(
        start_service,
        make_bot_settings(
            settings,
            local_slack,
            bot_token=None,
            client_id="1111.2222",
            client_secret="client-secret-value-9f8e",
            authorize_url=f"{local_slack.base_url}/oauth/v2/authorize",
        ),
        local_slack,
        bus,
    )
    base = harness.driver.events_url.removesuffix("/slack/events")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/slack/install", allow_redirects=False) as page:
            assert page.status == 200
            html = await page.text()
            cookie = page.headers["Set-Cookie"].split(";")[0]
        link = unescape(re.search(r'href="([^"]+oauth/v2/authorize[^"]+)"', html).group(1))
        query = parse_qs(urlparse(link).query)
        assert query["client_id"] == ["1111.2222"] and "commands" in query["scope"][0]
        state = query["state"][0]
        # The person approves in Slack; Slack redirects back with a code.
        local_slack.add_oauth_code("code-42", "T0NEWCO", "NewCo", "UINSTALLER", "xoxb-newco-1")
        async with http.get(
            f"{base}/slack/oauth_redirect?code=code-42&state={state}", headers={"Cookie": cookie}
        ) as callback:
            assert callback.status == 200, await callback.text()
        # The state is single use.
        async with http.get(
            f"{base}/slack/oauth_redirect?code=code-42&state={state}", headers={"Cookie": cookie}
        ) as replay:
            assert replay.status in (400, 401)
    async with harness.runtime.engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT team_id, team_name, bot_token, user_id FROM bot.slack_installations")
            )
        ).all()
    [(team, name, token, installer)] = [tuple(r) for r in stored]
    assert (team, name, installer) == ("T0NEWCO", "NewCo", "UINSTALLER")
    # sealed with the data key (tests/security/test_tokens_at_rest.py has the whole story)
    assert token.startswith("enc:v1:test:") and "xoxb-newco-1" not in token

    newco = SlackDriver(
        harness.driver.events_url,
        SIGNING_SECRET,
        local_slack,
        team_id="T0NEWCO",
        team_domain="newco",
    )
    async with newco:
        response = await newco.command("accounts", user="UINSTALLER")
        assert response.status == 200
        await reply_to(local_slack, "UINSTALLER", "production")
        # the installer Slack authenticated owns the team; the next person is not its owner
        await newco.command("accounts", user="USECOND")
        await reply_to(local_slack, "USECOND", "not a member of this workspace's CloudAudit team")
    people = SlackWorkspace(bus_ask(bus.broker, bus.names), "T0NEWCO")
    assert (await people.person("UINSTALLER")).role.value == "owner"
    assert {c.token for c in local_slack.calls if c.method == "users.info"} == {"xoxb-newco-1"}
    await harness.driver.close()


async def test_a_workspace_that_did_not_install_gets_a_clear_answer(
    local_slack, bus, start_service, settings
):
    harness = await start_bot(
        start_service,
        make_bot_settings(
            settings,
            local_slack,
            bot_token=None,
            client_id="1111.2222",
            client_secret="client-secret-value-9f8e",
        ),
        local_slack,
        bus,
    )
    stranger = SlackDriver(
        harness.driver.events_url, SIGNING_SECRET, local_slack, team_id="T0STRANGER"
    )
    async with stranger:
        response = await stranger.command("accounts", user="USOMEONE")
    assert response.status == 200
    answer = await reply_to(local_slack, "USOMEONE", "not installed in this Slack workspace")
    assert answer.via == "response_url"
    assert [c.method for c in local_slack.calls] == ["response_url"]  # no Web API call
    await harness.driver.close()
