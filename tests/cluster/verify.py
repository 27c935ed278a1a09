"""What must hold after the load and every fault: each cost day, anomaly, audit entry and Slack
post exactly once, nothing dead-lettered or parked, every replica ready."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tests.cluster.load import alert_posts
from tests.cluster.stack import ClusterStack, until

if TYPE_CHECKING:
    from tests.cluster.load import Load

# A message a killed replica held is redelivered once its ack wait (bus.ACK_WAIT_S, 60 s) ends.
SETTLE_S = 120.0
OUTBOX_SCHEMAS = ("identity", "ingest", "analytics", "bot")


def check(ok: bool, detail: str) -> dict[str, Any]:
    return {"ok": bool(ok), "detail": detail}


async def verify(stack: ClusterStack, load: Load) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    expected_days = load.accounts_n * (load.days + len(load.rounds))
    settled = time.monotonic()
    try:
        await until(lambda: _settled(load, expected_days), SETTLE_S, "everything settled")
        checks["settled"] = check(True, f"within {time.monotonic() - settled:.1f} s")
    except TimeoutError as exc:  # the checks below say what is missing
        checks["settled"] = check(False, str(exc))
    checks["cost days"] = await _cost_days(load, expected_days)
    anomalies, alerted = await _anomalies(load)
    checks["anomalies"] = anomalies
    if not anomalies["ok"]:
        anomalies["missing"] = await diagnose_missing(load)
    checks["slack posts"] = _slack_posts(stack, alerted)
    checks["audit entries"] = await _audit(stack, load)
    checks["dead letters"] = await _dead_letters(stack)
    checks["outboxes"] = await _outboxes(load)
    checks["replicas ready"] = await _ready(stack)
    return checks


COUNTED = (
    "cloudaudit_redeliveries_total",
    "cloudaudit_messages_total",
    "cloudaudit_dead_letters_total",
    "cloudaudit_outbox_parked_total",
)


async def bus_counters(stack: ClusterStack) -> dict[str, dict[str, float]]:
    """What each running replica's /metrics counted since it (re)started: redeliveries show
    the work a killed process or a lost node left unacknowledged coming back."""
    from tests.cluster.stack import http_get

    found: dict[str, dict[str, float]] = {}
    for replica in stack.fleet.replicas.values():
        _, text = await http_get(f"{replica.health_url}/metrics")
        totals: dict[str, float] = {}
        for line in str(text).splitlines():
            name, _, value = line.partition(" ")
            metric = name.split("{", 1)[0]
            if metric in COUNTED:
                key = metric.removeprefix("cloudaudit_").removesuffix("_total")
                if 'outcome="error"' in name:
                    key += "_failed"
                elif metric == "cloudaudit_messages_total":
                    key += "_ok"
                totals[key] = totals.get(key, 0.0) + float(value)
        found[replica.name] = totals
    return found


async def _settled(load: Load, expected_days: int) -> bool:
    if await load.learnt() < expected_days:
        return False
    alerted = await load.rows(
        "SELECT anomaly_id FROM analytics.cost_anomalies WHERE team_id=$1 AND alerted=1",
        load.team_id,
    )
    seen = alert_posts(load.stack.slack)
    if any(str(r["anomaly_id"]) not in seen for r in alerted) or len(alerted) < len(load.spiked):
        return False
    pending = await _outbox_counts(load)
    if any(unpublished for unpublished, _ in pending.values()):
        return False
    # The last channel changes' audit entries may still be on their way to identity.
    entries = await _audit_entries(load)
    return all(entries.get(c) for c in _answered(load))


async def _audit_entries(load: Load) -> dict[str, int]:
    rows = await load.rows(
        "SELECT details->>'channel_id' AS channel, count(*) AS n FROM identity.audit_logs "
        "WHERE team_id=$1 AND action='alerts.channel_set' GROUP BY 1",
        load.audit_team_id,
    )
    return {r["channel"]: r["n"] for r in rows}


def _answered(load: Load) -> list[str]:
    """The channel changes whose answer reached Slack (the change was committed first)."""
    return [c for c, _ in load.audit_commands if load.stack.slack.channel_messages(c)]


async def _cost_days(load: Load, expected: int) -> dict[str, Any]:
    row = (
        await load.rows(
            "SELECT count(*) AS n, count(DISTINCT (account_id, usage_date)) AS distinct_days "
            "FROM analytics.cost_days WHERE team_id=$1",
            load.team_id,
        )
    )[0]
    return check(
        row["n"] == row["distinct_days"] == expected,
        f"{row['n']} learnt, {row['distinct_days']} distinct, {expected} published",
    )


async def _anomalies(load: Load) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """One alerted anomaly per real jump, none on another day; no series-day twice."""
    rows = await load.rows(
        "SELECT anomaly_id, account_id, usage_date, series_key, alerted "
        "FROM analytics.cost_anomalies WHERE team_id=$1",
        load.team_id,
    )
    per_series_day = Counter((r["account_id"], r["usage_date"], r["series_key"]) for r in rows)
    twice = [k for k, n in per_series_day.items() if n > 1]
    alerted = {
        str(r["anomaly_id"]): (r["account_id"], r["usage_date"]) for r in rows if r["alerted"]
    }
    per_jump = Counter(alerted.values())
    missing = [k for k in load.spiked if per_jump.get(k, 0) == 0]
    doubled = [k for k, n in per_jump.items() if n > 1]
    false_alerts = [k for k in per_jump if k not in load.spiked]
    ok = not (twice or missing or doubled or false_alerts)
    detail = (
        f"{len(rows)} anomalies, {len(alerted)} alerted for {len(load.spiked)} real jumps; "
        f"missing {len(missing)}, alerted twice {len(doubled)}, on days without a jump "
        f"{len(false_alerts)}, series-days recorded twice {len(twice)}"
    )
    return check(ok, detail), alerted


def _slack_posts(stack: ClusterStack, alerted: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    seen = alert_posts(stack.slack)
    copies = Counter(n for anomaly_id, n in seen.items() if anomaly_id in alerted)
    unknown = [a for a in seen if a not in alerted]
    missing = [a for a in alerted if a not in seen]
    ok = set(copies) <= {1} and not unknown and not missing
    return check(
        ok,
        f"{sum(seen.values())} alert messages for {len(alerted)} alerted "
        f"anomalies; copies per anomaly {dict(copies)}, missing {len(missing)}, "
        f"for no alerted anomaly {len(unknown)}",
    )


async def _audit(stack: ClusterStack, load: Load) -> dict[str, Any]:
    """Each answered `alerts here` has exactly one audit entry; one that a dying replica acked
    but never answered has at most one (Slack does not retry a slash command)."""
    entries = await _audit_entries(load)
    answered = _answered(load)
    unanswered = [c for c, _ in load.audit_commands if c not in answered]
    missing = [c for c in answered if entries.get(c, 0) != 1]
    doubled = [c for c, n in entries.items() if n > 1]
    main_team = await load.value(
        "SELECT count(*) FROM identity.audit_logs WHERE team_id=$1 AND action='alerts.channel_set'",
        load.team_id,
    )
    ok = not missing and not doubled and main_team == 1 and len(answered) > 0
    return check(
        ok,
        f"{len(load.audit_commands)} channel changes sent, {len(answered)} answered, "
        f"{sum(entries.values())} audit entries; answered without exactly one entry "
        f"{len(missing)} {missing[:5]}, entered twice {len(doubled)}, unanswered {len(unanswered)} "
        f"(of which audited {sum(1 for c in unanswered if c in entries)}); "
        f"alert team's own entry x{main_team}",
    )


async def _dead_letters(stack: ClusterStack) -> dict[str, Any]:
    info = await stack.stream_info("DLQ")
    return check(info.state.messages == 0, f"{info.state.messages} messages in the DLQ stream")


async def _outbox_counts(load: Load) -> dict[str, tuple[int, int]]:
    counts = {}
    for schema in OUTBOX_SCHEMAS:
        row = (
            await load.rows(
                f"SELECT count(*) FILTER (WHERE published_at IS NULL AND parked_at IS NULL) "
                f"AS unpublished, count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked "
                f"FROM {schema}.outbox"
            )
        )[0]
        counts[schema] = (int(row["unpublished"]), int(row["parked"]))
    return counts


async def _outboxes(load: Load) -> dict[str, Any]:
    counts = await _outbox_counts(load)
    ok = all(unpublished == 0 and parked == 0 for unpublished, parked in counts.values())
    return check(
        ok,
        ", ".join(f"{s} {u} unpublished/{p} parked" for s, (u, p) in counts.items()),
    )


async def _ready(stack: ClusterStack) -> dict[str, Any]:
    replicas = list(stack.fleet.replicas.values())
    probes = await asyncio.gather(*(stack.probe(r) for r in replicas))
    not_ready = [r.name for r, p in zip(replicas, probes, strict=True) if p["readyz"] != 200]
    return check(not not_ready, f"{len(replicas) - len(not_ready)}/{len(replicas)} ready")


async def diagnose_missing(load: Load) -> list[dict[str, Any]]:
    """For each real jump without an alert: when its days were recorded and what analytics
    kept for the account (what a person would look at first)."""
    alerted = {
        (r["account_id"], r["usage_date"])
        for r in await load.rows(
            "SELECT account_id, usage_date FROM analytics.cost_anomalies "
            "WHERE team_id=$1 AND alerted=1",
            load.team_id,
        )
    }
    found = []
    for account_id, day in [k for k in load.spiked if k not in alerted][:5]:
        days = await load.rows(
            "SELECT usage_date, revision, recorded_at FROM analytics.cost_days "
            "WHERE team_id=$1 AND account_id=$2 AND usage_date >= $3 ORDER BY usage_date",
            load.team_id,
            account_id,
            day - timedelta(days=2),
        )
        anomalies = await load.rows(
            "SELECT usage_date, series_key, alerted, status FROM analytics.cost_anomalies "
            "WHERE team_id=$1 AND account_id=$2",
            load.team_id,
            account_id,
        )
        found.append(
            {
                "jump": day.isoformat(),
                "days": [
                    (str(d["usage_date"]), d["revision"], str(d["recorded_at"])) for d in days
                ],
                "anomalies": [dict(a) for a in anomalies],
            }
        )
    return found
