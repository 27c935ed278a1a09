"""People from Slack through the real bot and identity: invitations, guests, linking codes."""

from __future__ import annotations

from bot_support import MEMBER, OWNER, reply_to, visible

from cloudaudit.common.events import account
from cloudaudit.common.events.identity import Role


async def test_an_owner_invites_from_slack_and_the_person_joins_on_first_use(bot, ingest):
    await bot.team()
    await bot.driver.command("invite <@UNIA|nia> viewer", user=OWNER)
    await reply_to(bot.slack, OWNER, "Invited <@UNIA> as viewer")
    await bot.driver.command("accounts", user="UNIA")
    await reply_to(bot.slack, "UNIA", "production")
    assert (await bot.enrol("UNIA")).role is Role.VIEWER

    await bot.driver.command("invite <@UOTTO>", user=MEMBER)
    refused = await reply_to(bot.slack, MEMBER, "Sorry")
    assert "only owners and admins can change team membership" in visible(refused)
    assert not (await bot.people.resolve("UOTTO")).ok


async def test_a_mention_slack_did_not_resolve_is_explained(bot):
    await bot.team()
    response = await bot.driver.command("invite @nia", user=OWNER)
    assert "Copy member ID" in response.text and "Escape channels" in response.text


async def test_a_guest_invited_by_mistake_is_still_refused(bot, ingest):
    await bot.team()
    bot.slack.set_user("UGUEST", name="Gus Guest", guest=True)
    await bot.driver.command("invite <@UGUEST> admin", user=OWNER)
    await reply_to(bot.slack, OWNER, "Invited <@UGUEST>")
    await bot.driver.command("accounts", user="UGUEST")
    refused = await reply_to(bot.slack, "UGUEST", "Slack guests cannot use CloudAudit")
    assert "production" not in visible(refused)
    assert ingest.requests[account.RPC_ACCOUNTS] == []  # nothing was asked for the guest


async def test_a_link_code_is_shown_only_to_the_person_who_asked(bot):
    await bot.team()
    await bot.driver.command("link", user=MEMBER)
    shown = await reply_to(bot.slack, MEMBER, "one-time link code")
    assert shown.ephemeral_for == MEMBER or shown.via == "response_url"
    assert "POST /api/v1/link/slack" in visible(shown)
