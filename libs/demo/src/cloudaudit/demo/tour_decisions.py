"""Tour steps about people deciding: "expected" feedback on the alert, a viewer refused on
Approve, an admin approving, and the audit log showing who did each of these and when."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from uuid import UUID

from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.anomaly import (
    RPC_ANOMALIES,
    AnomaliesReply,
    AnomaliesRequest,
    AnomalyStatus,
)
from cloudaudit.common.events.identity import (
    RPC_SLACK_USER,
    Audience,
    Role,
    SlackUserReply,
    SlackUserRequest,
)
from cloudaudit.common.events.recommendation import (
    RPC_RECOMMENDATIONS,
    RecommendationsReply,
    RecommendationsRequest,
)
from cloudaudit.demo.company import EC2_SERVICE
from cloudaudit.demo.tour_session import Tour, button_number
from pydantic import SecretStr

DEMO_OWNER = "UDEMOOWNER"
ALERT_UPDATE_WAIT_S = 20.0
DEMO_ADMIN = "UDEMOADMIN"
DEMO_VIEWER = "UDEMOVIEWER"
PEOPLE = {DEMO_ADMIN: ("Ada Admin", Role.ADMIN), DEMO_VIEWER: ("Vic Viewer", Role.VIEWER)}
AUDIT_WAIT_S = 60
AUDIT_LIMIT = 40
EXPECTED_LABEL = "Expected spend"


class _As:
    """Type in the console as another Slack user of the same workspace."""

    def __init__(self, tour: Tour, slack_user: str) -> None:
        self.tour = tour
        self.slack_user = slack_user

    def __enter__(self) -> None:
        self.tour.session.user = self.slack_user

    def __exit__(self, *exc: object) -> None:
        self.tour.session.user = DEMO_OWNER


async def _user(tour: Tour, slack_user: str) -> SlackUserReply:
    """Who identity says a person of the demo's workspace is (a full member, as users.info
    says of everyone there)."""
    return await tour.stack.request(
        RPC_SLACK_USER,
        SlackUserRequest.full_member(tour.session.driver.team_id, slack_user),
        SlackUserReply,
    )


async def add_people(tour: Tour) -> None:
    """The owner invites an admin and a viewer from Slack; each joins with that role the first
    time they use the bot (nobody joins uninvited, and no one is linked by email)."""
    roles = []
    for slack_user, (name, role) in PEOPLE.items():
        tour.session.slack.set_user(slack_user, name=name)
        invited = await tour.line(f"/cloudaudit invite <@{slack_user}> {role.value}")
        with _As(tour, slack_user):
            await tour.line("/cloudaudit help")  # an invited person joins on first use
        person = await _user(tour, slack_user)
        again = tour.rerun and "already a member" in invited
        joined = person.role if person.ok and ("Invited" in invited or again) else None
        roles.append((name, slack_user, joined))
    ok = all(role is PEOPLE[slack_user][1] for _, slack_user, role in roles)
    detail = ", ".join(
        f"{name} (@{user}) invited, joined as {role.value if role else '?'}"
        for name, user, role in roles
    )
    tour.record("the owner invites an admin and a viewer", ok, detail)


async def owner_token(tour: Tour, audience: Audience) -> SecretStr:
    """The demo owner's actor token for one service: the tour checks what the owner sees."""
    return (await _user(tour, DEMO_OWNER)).tokens[audience]


async def _ec2_statuses(tour: Tour, team_id: UUID) -> list[AnomalyStatus]:
    reply = await tour.stack.request(
        RPC_ANOMALIES,
        AnomaliesRequest(
            actor_token=await owner_token(tour, Audience.ANALYTICS), status=None, limit=200
        ),
        AnomaliesReply,
    )
    return [a.status for a in reply.anomalies if a.service == EC2_SERVICE]


async def expected_feedback(tour: Tour, team_id: UUID) -> None:

    name = 'press "Expected spend" on the alert'
    number = button_number(tour.seen(), EXPECTED_LABEL)
    if number is None:
        statuses = await _ec2_statuses(tour, team_id)
        ok = tour.rerun and AnomalyStatus.EXPECTED in statuses
        tour.record(name, ok, "marked expected on the previous run" if ok else "no alert button")
        return
    output = await tour.line(str(number))
    marked = "marked expected spend by @" + DEMO_OWNER

    async def alert_updated() -> str | None:
        # analytics records the feedback and publishes anomaly.v1.updated; the bot updates the
        # alert from that event, a moment after the answer to the press
        nonlocal output
        output += "\n" + await tour.poll()
        return output if "updated in #" in output and marked in output else None

    updated = await tour.wait_for(alert_updated, ALERT_UPDATE_WAIT_S) is not None
    statuses = await _ec2_statuses(tour, team_id)
    ok = updated and AnomalyStatus.EXPECTED in statuses
    tour.record(
        name,
        ok,
        f"the anomaly is now {'expected' if AnomalyStatus.EXPECTED in statuses else 'still open'}"
        "; the alert in the channel shows who marked it",
        output,
    )


async def _rec_statuses(tour: Tour, team_id: UUID) -> dict[UUID, str]:
    reply = await tour.stack.request(
        RPC_RECOMMENDATIONS,
        RecommendationsRequest(
            actor_token=await owner_token(tour, Audience.ANALYTICS), status=None, limit=200
        ),
        RecommendationsReply,
    )
    return {r.recommendation_id: r.status.value for r in reply.recommendations}


async def viewer_refused_then_admin_approves(tour: Tour, team_id: UUID, number: int) -> None:
    before = await _rec_statuses(tour, team_id)
    with _As(tour, DEMO_VIEWER):
        output = await tour.line(str(number))
    unchanged = await _rec_statuses(tour, team_id) == before
    refused = "only owners and admins can approve recommendations; you are a viewer" in output
    tour.record(
        "a viewer presses Approve",
        refused and unchanged,
        "refused with the reason, nothing changed" if unchanged else "something changed!",
        output,
    )
    with _As(tour, DEMO_ADMIN):
        output = await tour.line(str(number))
    after = await _rec_statuses(tour, team_id)
    approved = [r for r, status in after.items() if status == "approved" and before[r] != status]
    ok = "approved" in output.lower() and f"@{DEMO_ADMIN}" in output and len(approved) == 1
    # Savings are realised on the bill: the first whole day after the approval, once that
    # day's costs arrive (or sooner if the resource is seen gone), never right away.
    measured = (utcnow() + timedelta(days=1)).date()
    tour.record(
        "approve a recommendation",
        ok,
        "pressed Approve as the team's admin; realised savings are measured on the bill from "
        f"{measured:%a %b %d} (the first whole day after the approval), once its costs arrive",
        output,
    )


async def approved_last_time(tour: Tour, team_id: UUID) -> None:
    """Started again: the recommendation the admin approved is still approved, and nothing
    the previous run left open was reopened or decided by the restart."""
    statuses = await _rec_statuses(tour, team_id)
    approved = [r for r, status in statuses.items() if status == "approved"]
    ok = len(approved) == 1 and set(statuses.values()) <= {"approved", "open"}
    tour.record(
        "approve a recommendation",
        ok,
        f"approved on the previous run and still approved; {len(statuses) - len(approved)} "
        "still open (decisions survive a restart)",
    )


_ENTRY = re.compile(r"UTC\S* · ")  # an entry starts with when it happened


def _entry_rows(output: str) -> list[str]:
    """The audit entries (one line each, dated), not other posts that arrived with the reply."""
    return [row for row in output.splitlines() if _ENTRY.search(row)]


def _missing(rows: list[str], rerun: bool) -> list[str]:
    """What the log lacks, or holds twice: each action is recorded once, by the service that
    made the change (ingest the connect, analytics the feedback and the decisions), in words
    (no raw action names)."""
    wanted = {
        "connect": lambda r: "connected AWS account" in r and f"@{DEMO_OWNER}" in r,
        "expected feedback": lambda r: "gave feedback on anomaly" in r and f"@{DEMO_OWNER}" in r,
        "the viewer refused": lambda r: "was refused" in r and f"@{DEMO_VIEWER}" in r,
        "the approval": lambda r: "approved recommendation" in r and f"@{DEMO_ADMIN}" in r,
    }
    missing = [what for what, found in wanted.items() if not any(found(r) for r in rows)]
    if rerun:  # a second tour adds its own refusal and approval: counting is for one run
        return missing
    once = ("expected feedback", "the viewer refused", "the approval")
    twice = [w for w in once if sum(wanted[w](r) for r in rows) > 1]
    return missing + [f"{what} (recorded twice)" for what in twice]


async def audit_log(tour: Tour) -> None:
    deadline = time.monotonic() + AUDIT_WAIT_S
    missing = ["everything"]
    output = ""
    while missing and time.monotonic() < deadline:
        # Audit events reach identity over JetStream: ask again until they have arrived.
        output = await tour.line(f"/cloudaudit audit --limit {AUDIT_LIMIT}")
        missing = _missing(_entry_rows(output), tour.rerun)
    dated = all(" UTC" in row for row in _entry_rows(output))
    ok = not missing and dated and "Audit log" in output
    detail = (
        "connect, feedback, the refused attempt and the approval, each with who and when"
        if ok
        else f"missing: {', '.join(missing) or 'dates'}"
    )
    tour.record("the audit log shows every step", ok, "`/cloudaudit audit` · " + detail, output)
    with _As(tour, DEMO_VIEWER):
        refused = await tour.line("/cloudaudit audit")
    tour.record(
        "a viewer asks for the audit log",
        "only owners and admins can read the audit log" in refused and "`" not in refused,
        "refused with the reason",
        refused,
    )
