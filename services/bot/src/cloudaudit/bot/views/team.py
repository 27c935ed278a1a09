"""Team views: members with roles (a role picker for owners/admins), settings, alert setup."""

from __future__ import annotations

import json
from decimal import Decimal

from cloudaudit.bot.views.common import Block, context, escape, mention, section, usd
from cloudaudit.common.events.identity import Member, Role

ACTION_ROLE = "team_role"
ACTION_EDIT_SETTINGS = "settings_edit"
VIEW_SETTINGS = "settings_modal"
ROLE_ORDER = [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER]


def _role_option(member: Member, role: Role) -> Block:
    return {
        "text": {"type": "plain_text", "text": role.value.title()},
        "value": json.dumps({"u": str(member.user_id), "r": role.value}, separators=(",", ":")),
    }


def _role_picker(member: Member) -> Block:
    return {
        "type": "static_select",
        "action_id": ACTION_ROLE,
        "placeholder": {"type": "plain_text", "text": "Role"},
        "initial_option": _role_option(member, member.role),
        "options": [_role_option(member, r) for r in ROLE_ORDER],
    }


def _mention(member: Member) -> str:
    return mention(member.slack_user_id) if member.slack_user_id else escape(member.display_name)


def team_list(members: list[Member], can_manage: bool) -> list[Block]:
    ordered = sorted(members, key=lambda m: (ROLE_ORDER.index(m.role), m.display_name.lower()))
    blocks: list[Block] = [
        section(f"*Team: {len(members)} member{'s' if len(members) != 1 else ''}*")
    ]
    for member in ordered:
        text = f"{_mention(member)} · *{member.role.value}*"
        if member.email:
            text += f" · {escape(member.email)}"
        if can_manage:
            blocks.append(
                section(text, accessory=_role_picker(member), block_id=f"member:{member.user_id}")
            )
        else:
            blocks.append(section(text))
    blocks.append(
        context(
            "Owners manage everything; admins approve recommendations and "
            "connect accounts; members give feedback and snooze; viewers read."
        )
    )
    return blocks


def role_changed(member_name: str, role: Role) -> list[Block]:
    return [section(f":white_check_mark: {escape(member_name)} is now *{role.value}*.")]


def settings_view(
    min_impact: Decimal | None, min_impact_pct: Decimal | None, can_edit: bool
) -> list[Block]:
    impact = usd(min_impact) if min_impact is not None else "default"
    share = f"{min_impact_pct}%" if min_impact_pct is not None else "default"
    blocks: list[Block] = [
        section(
            "*Anomaly alert thresholds*\nAn anomaly alerts only when its excess is at least "
            f"*{impact}* a day and *{share}* over what was expected."
        )
    ]
    if can_edit:
        blocks.append(
            {
                "type": "actions",
                "block_id": "settings",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ACTION_EDIT_SETTINGS,
                        "value": "edit",
                        "text": {"type": "plain_text", "text": "Change thresholds"},
                    }
                ],
            }
        )
    return blocks


def settings_modal(
    min_impact: Decimal | None, min_impact_pct: Decimal | None, channel_id: str | None
) -> dict[str, object]:
    def number_input(block_id: str, label: str, value: Decimal | None, hint: str) -> Block:
        element: Block = {
            "type": "number_input",
            "action_id": "value",
            "is_decimal_allowed": True,
            "min_value": "0",
        }
        if value is not None:
            element["initial_value"] = format(value, "f")
        return {
            "type": "input",
            "block_id": block_id,
            "label": {"type": "plain_text", "text": label},
            "hint": {"type": "plain_text", "text": hint},
            "element": element,
        }

    return {
        "type": "modal",
        "callback_id": VIEW_SETTINGS,
        "private_metadata": json.dumps({"c": channel_id}, separators=(",", ":")),
        "title": {"type": "plain_text", "text": "Alert thresholds"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            number_input(
                "min_impact",
                "Minimum excess per day (USD)",
                min_impact,
                "Smaller anomalies are recorded but not alerted.",
            ),
            number_input(
                "min_impact_pct",
                "Minimum excess (% over expected)",
                min_impact_pct,
                "e.g. 20 means 20% above the expected spend.",
            ),
        ],
    }


def alerts_here(channel_id: str, reposted: int) -> list[Block]:
    text = f":loudspeaker: Alerts for this team now go to <#{channel_id}>."
    if reposted:
        text += (
            f" I also posted {reposted} alert{'s' if reposted != 1 else ''} kept while I "
            "had no channel."
        )
    return [section(text)]


def digest_set(frequency: str, hour: int, time_zone: str) -> list[Block]:
    if frequency == "off":
        return [section(":no_bell: Digests are off.")]
    day = "every day" if frequency == "daily" else "every Monday"
    return [
        section(
            f":calendar: A {escape(frequency)} spend digest will be posted {day} at "
            f"{hour:02d}:00 ({escape(time_zone)}) in the alert channel."
        )
    ]


def expectation_recorded(service: str, amount: Decimal, days: int) -> list[Block]:
    return [
        section(
            f":memo: Noted: {escape(service)} is expected to cost up to {usd(amount)} more "
            f"per day for the next {days} day{'s' if days != 1 else ''}; that increase "
            "won't alert."
        )
    ]


def channel_lost_dm(channel_id: str, alert_text: str | None) -> list[Block]:
    text = (
        f":warning: I can't post CloudAudit alerts in <#{channel_id}> any more (I was removed "
        "or the channel was archived). I keep every alert; run `/cloudaudit alerts here` in "
        "a channel to receive them there."
    )
    blocks = [section(text)]
    if alert_text:
        blocks.append(context(f"Latest alert: {escape(alert_text)}"))
    return blocks


def no_channel_dm(alert_text: str) -> list[Block]:
    return [
        section(
            ":loudspeaker: CloudAudit has an alert for your team but no alert channel. "
            "Run `/cloudaudit alerts here` in the channel that should get them."
        ),
        context(escape(alert_text)),
    ]
