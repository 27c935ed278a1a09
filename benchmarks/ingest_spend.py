"""Spend query latency: one year of 50 accounts x 20 services x 20 regions (budget: p95 < 200 ms).

Fills daily_cost_summaries (7.3 million rows) and the monthly rollup the way a year of syncs
leaves them, then asks the spend question the bot and `cloudaudit spend` ask, through the
same service function, many times per grouping.

Run: .venv/bin/python benchmarks/ingest_spend.py [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from cloudaudit.common.db import make_engine
from cloudaudit.common.embedded import EmbeddedInfrastructure, free_port
from cloudaudit.common.migrations import upgrade
from cloudaudit.common.service import discover_services
from cloudaudit.ingest.domain.spend import Dimension, Points, SpendQuery
from cloudaudit.ingest.entrypoints.app import ingest_deps
from cloudaudit.ingest.service import spend
from cloudaudit.ingest.settings import IngestSettings
from sqlalchemy import text

ACCOUNTS, SERVICES, REGIONS = 50, 20, 20
YEAR = (date(2025, 1, 1), date(2026, 1, 1))


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


async def fill(engine, team_id: uuid.UUID) -> int:
    async with engine.begin() as connection:
        await connection.execute(
            text("""
            INSERT INTO ingest.aws_accounts (account_id, team_id, aws_account_id, account_name,
                status, created_at, updated_at)
            SELECT gen_random_uuid(), :team, lpad((100000000000 + a)::text, 12, '0'),
                   'bench ' || a, 'connected', now(), now()
            FROM generate_series(1, :accounts) AS a"""),
            {"team": team_id, "accounts": ACCOUNTS},
        )
        await connection.execute(
            text("""
            INSERT INTO ingest.daily_cost_summaries (account_id, team_id, aws_account_id,
                usage_date, service, region, unblended_cost, blended_cost, amortized_cost,
                public_on_demand_cost, net_unblended_cost, usage_quantity, source, updated_at)
            SELECT a.account_id, a.team_id, a.aws_account_id, d::date, 'Service ' || s,
                   'region-' || r, c, c, c * 0.9, c * 1.2, c, 1, 'cost_explorer', now()
            FROM ingest.aws_accounts a
            CROSS JOIN generate_series(CAST(:start AS timestamp), CAST(:end AS timestamp) - interval '1 day', interval '1 day') AS d
            CROSS JOIN generate_series(1, :services) AS s
            CROSS JOIN generate_series(1, :regions) AS r
            CROSS JOIN LATERAL (SELECT round((random() * 10)::numeric, 6) AS c) AS cost
            WHERE a.team_id = :team"""),
            {
                "team": team_id,
                "start": YEAR[0],
                "end": YEAR[1],
                "services": SERVICES,
                "regions": REGIONS,
            },
        )
        await connection.execute(
            text("""
            INSERT INTO ingest.monthly_cost_summaries (account_id, month, service, region, team_id,
                aws_account_id, unblended_cost, blended_cost, amortized_cost,
                public_on_demand_cost, net_unblended_cost)
            SELECT account_id, date_trunc('month', usage_date)::date, service, region, team_id,
                   aws_account_id, sum(unblended_cost), sum(blended_cost), sum(amortized_cost),
                   sum(public_on_demand_cost), sum(net_unblended_cost)
            FROM ingest.daily_cost_summaries WHERE team_id = :team
            GROUP BY 1, 2, 3, 4, 5, 6"""),
            {"team": team_id},
        )
        count = (
            await connection.execute(
                text("SELECT count(*) FROM ingest.daily_cost_summaries WHERE team_id = :team"),
                {"team": team_id},
            )
        ).scalar_one()
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE ingest.daily_cost_summaries"))
        await connection.execute(text("VACUUM ANALYZE ingest.monthly_cost_summaries"))
    return int(count)


async def main(runs: int) -> None:
    infra = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        infra = EmbeddedInfrastructure(
            Path(tempfile.mkdtemp(prefix="spend-bench-")), free_port(), free_port()
        )
        infra.postgres.start()
        url = infra.postgres.url
    try:
        spec = discover_services()["ingest"]
        await upgrade(spec.migrations, url, spec.schema)
        settings = IngestSettings(DATABASE_URL=url, NATS_URL="nats://127.0.0.1:4222")  # type: ignore[call-arg]
        engine = make_engine(url, schema="ingest")
        deps = ingest_deps(settings, engine)
        team_id = uuid.uuid4()
        started = time.perf_counter()
        rows = await fill(engine, team_id)
        print(
            f"filled {rows:,} daily summary rows ({ACCOUNTS} accounts x {SERVICES} services x "
            f"{REGIONS} regions x 365 days) in {time.perf_counter() - started:.0f} s"
        )
        cases = [
            ("1 year by service", SpendQuery(team_id, *YEAR, Dimension.SERVICE)),
            ("1 year by region", SpendQuery(team_id, *YEAR, Dimension.REGION)),
            ("1 year by account", SpendQuery(team_id, *YEAR, Dimension.ACCOUNT)),
            ("1 year by month", SpendQuery(team_id, *YEAR, Dimension.MONTH)),
            (
                "1 year total, monthly points",
                SpendQuery(team_id, *YEAR, Dimension.NONE, points=Points.MONTHLY),
            ),
            (
                "Jan 15 - Dec 10 by service",
                SpendQuery(team_id, date(2025, 1, 15), date(2025, 12, 10), Dimension.SERVICE),
            ),
            (
                "one month by day",
                SpendQuery(team_id, date(2025, 11, 1), date(2025, 12, 1), Dimension.DAY),
            ),
        ]
        print()
        print("| spend query | p50 ms | p95 ms | max ms |")
        print("| --- | ---: | ---: | ---: |")
        year_p95 = 0.0
        for label, query in cases:
            await spend.spend(deps, query)  # warm the cache once
            timings = []
            for _ in range(runs):
                t0 = time.perf_counter()
                await spend.spend(deps, query)
                timings.append((time.perf_counter() - t0) * 1000)
            p95 = pct(timings, 0.95)
            if label == "1 year by service":
                year_p95 = p95
            print(
                f"| {label} | {statistics.median(timings):.1f} | {p95:.1f} | {max(timings):.1f} |"
            )
        print()
        print(
            f"one-year spend by service p95: {year_p95:.1f} ms "
            f"(budget < 200 ms: {'met' if year_p95 < 200 else 'MISSED'})"
        )
        await engine.dispose()
    finally:
        if infra is not None:
            infra.postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    asyncio.run(main(parser.parse_args().runs))
