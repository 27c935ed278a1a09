"""Requests into the bot's HTTP endpoint as Slack sends them: signatures, ack, help."""

from __future__ import annotations

import time

from bot_support import MEMBER, OWNER, blocks_text, reply_to, visible

from cloudaudit.bot.driver import SlackDriver
from cloudaudit.bot.views.help import SUBCOMMANDS
from cloudaudit.common.testing import eventually


async def test_bad_signature_is_401_and_nothing_is_processed(bot):
    response = await bot.driver.command("spend", signature="v0=" + "0" * 64)
    assert response.status == 401
    assert bot.slack.calls == []  # no Web API call, no response_url post
    assert bot.users == {}


async def test_stale_signature_is_401(bot):
    # Bolt checks a signature's age against the real clock (transport, not business time).
    six_minutes_ago = int(time.time()) - 6 * 60  # noqa: TID251
    response = await bot.driver.command("help", timestamp=six_minutes_ago)
    assert response.status == 401
    assert bot.slack.calls == []


async def test_unsigned_request_is_401(bot):
    response = await bot.driver.command("help", signed=False)
    assert response.status == 401


async def test_request_signed_with_another_secret_is_401(bot):
    stranger = SlackDriver(bot.driver.events_url, "not-the-signing-secret", bot.slack)
    async with stranger:
        response = await stranger.command("help")
    assert response.status == 401
    assert bot.slack.calls == []


async def test_help_is_the_ack_itself_and_lists_every_subcommand(bot):
    response = await bot.driver.command("help")
    assert response.status == 200
    body = response.json()
    text = blocks_text(body["blocks"])
    for usage, _ in SUBCOMMANDS:
        assert usage.split(" ")[0] in text
    assert response.elapsed_s < 1.0
    # The slow half has nothing to add: no second message, certainly no error.
    await bot.service.app.listener_runner.lazy_listener_runner.drain()
    assert bot.slack.calls_to("response_url") == []


async def test_unknown_input_answers_in_one_line_not_a_stack_trace(bot):
    response = await bot.driver.command("frobnicate the budget")
    assert response.status == 200
    text = blocks_text(response.json()["blocks"])
    assert "I don't know `frobnicate the budget`" in text
    assert "`/cloudaudit help` lists every command" in text
    assert "alerts digest" not in text  # not the whole 25-line help again
    assert "Traceback" not in response.text


async def test_a_typo_answers_did_you_mean_with_the_one_line_usage(bot):
    response = await bot.driver.command("spedn 30d")
    text = blocks_text(response.json()["blocks"])
    assert "Did you mean `spend`?" in text
    assert (
        "Usage: `/cloudaudit spend [period] [by service|region|usage_type|account|tag:KEY]`" in text
    )
    assert len(text.splitlines()) <= 3
    await bot.service.app.listener_runner.lazy_listener_runner.drain()
    assert bot.slack.calls_to("response_url") == []


async def test_bad_arguments_explain_the_usage(bot):
    response = await bot.driver.command("spend by colour")
    text = blocks_text(response.json()["blocks"])
    assert "I can't group by 'colour'" in text
    assert "Usage: `/cloudaudit spend" in text


async def test_the_first_person_of_a_workspace_is_told_how_the_owner_claims_it(bot, ingest):
    await bot.driver.command("accounts", user=OWNER)
    told = await reply_to(bot.slack, OWNER, "no owner in this Slack workspace yet")
    assert "cloudaudit teams claim-code" in visible(told)
    async with bot.deps.uow() as uow:
        assert await uow.repo.team_by_slack(bot.driver.team_id) is None
    assert ingest.requests == {}


async def test_the_operator_s_claim_code_makes_the_first_owner_once(bot, ingest):
    code = await bot.claim_code()
    await bot.driver.command(f"claim {code}", user=OWNER)
    await reply_to(bot.slack, OWNER, "You own this workspace's CloudAudit team")
    assert (await bot.enrol(OWNER)).role.value == "owner"
    await bot.driver.command(f"claim {code}", user=MEMBER)
    refused = await reply_to(bot.slack, MEMBER, "claim code is unknown, used already or expired")
    assert code not in visible(refused)
    assert not (await bot.people.resolve(MEMBER)).ok


async def test_a_request_without_a_workspace_is_refused_and_no_tenant_none_appears(bot):
    body = bot.driver.command_body("accounts", OWNER, "CALERTS")
    del body["team_id"]
    response = await bot.driver._form(body)
    assert response.status == 200 and "came without one" in response.text
    await bot.service.app.listener_runner.lazy_listener_runner.drain()
    async with bot.deps.uow() as uow:
        assert await uow.repo.team_by_slack("None") is None
    assert not any(c.method == "users.info" for c in bot.slack.calls)


async def test_without_slack_credentials_the_bot_waits_and_says_how_to_try_it(
    start_service, settings, bus
):
    from bot_support import make_bot_settings

    from cloudaudit.bot.entrypoints.app import BOT_KEY
    from cloudaudit.bot.localslack import LocalSlack

    unconfigured = make_bot_settings(settings, LocalSlack(), signing_secret=None, bot_token=None)
    runtime = await start_service("bot", service_settings=unconfigured)
    assert runtime.http[BOT_KEY].endpoint is None
    assert any("slack-console" in note for note in runtime.notes)
    health = await runtime.health()
    assert health.healthy
    # No alert consumer: alerts stay in JetStream until a bot that can post them starts.
    js = bus.nc.jetstream()
    consumers = await js.consumers_info(bus.names.stream("ANOMALY"))
    assert [c.name for c in consumers] == []


async def test_socket_mode_serves_commands_without_a_public_url(
    local_slack, bus, start_service, settings, ingest
):
    from bot_support import make_bot_settings, reply_to

    from cloudaudit.bot.driver import SlackDriver
    from cloudaudit.bot.entrypoints.app import BOT_KEY

    await start_service("identity")
    from cloudaudit.bot.localslack import DEFAULT_TEAM
    from cloudaudit.common.testing_people import SlackWorkspace, bus_ask

    await SlackWorkspace(bus_ask(bus.broker, bus.names), DEFAULT_TEAM).install(OWNER)
    socket_mode = make_bot_settings(settings, local_slack, app_token="xapp-1-A1-local")
    runtime = await start_service("bot", service_settings=socket_mode)
    endpoint = runtime.http[BOT_KEY].endpoint
    await endpoint.ready.wait()
    assert endpoint.port is None  # nothing listens for Slack: the bot dialled out
    await eventually(lambda: _value(local_slack.socket_connected))
    command = SlackDriver("", "unused", local_slack).command_body("accounts", OWNER, "CSOCKET")
    envelope = await local_slack.socket_send("slash_commands", command)
    await eventually(lambda: _value(envelope in local_slack.socket_acks))
    answer = await reply_to(local_slack, OWNER, "production")
    assert answer.via == "response_url"


async def _value(value):
    return value
