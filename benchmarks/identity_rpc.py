"""Identity request/reply latency on the embedded stack (budget: well under 50 ms).

Run: .venv/bin/python benchmarks/identity_rpc.py
"""

from __future__ import annotations

import asyncio
import statistics
import time

from cloudaudit.common.bus import BusNames, ensure_streams, make_broker, rpc
from cloudaudit.common.events.identity import (
    RPC_AUTHORIZE,
    RPC_SLACK_USER,
    Action,
    AuthorizeReply,
    AuthorizeRequest,
    SlackUserReply,
    SlackUserRequest,
)
from cloudaudit.common.migrations import upgrade
from cloudaudit.common.runtime import Endpoints, build_runtime
from cloudaudit.common.service import discover_services
from cloudaudit.common.settings import CommonSettings

REQUESTS = 500
CONCURRENCY = 10


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


async def main(endpoints: Endpoints) -> None:
    spec = discover_services()["identity"]
    await upgrade(spec.migrations, endpoints.database_url, spec.schema)
    settings = CommonSettings(CLOUDAUDIT_BUS_PREFIX="bench")  # type: ignore[call-arg]
    runtime = build_runtime(spec, settings, endpoints, http_port=0)
    await runtime.start()
    names = BusNames("bench")
    client = make_broker(endpoints.nats_url, names, "bench", 3)
    await client.connect()
    await ensure_streams(client, names)
    owner = await rpc(
        client,
        names,
        RPC_SLACK_USER,
        SlackUserRequest(slack_team_id="TBENCH", slack_user_id="U1"),
        SlackUserReply,
    )
    timings: list[float] = []
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with semaphore:
            started = time.perf_counter()
            await rpc(
                client,
                names,
                RPC_AUTHORIZE,
                AuthorizeRequest(
                    team_id=owner.team_id,
                    user_id=owner.user_id,
                    action=Action.APPROVE_RECOMMENDATION,
                ),
                AuthorizeReply,
            )
            timings.append((time.perf_counter() - started) * 1000)

    wall = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(REQUESTS)))
    wall = time.perf_counter() - wall
    print(f"identity.v1.rpc.authorize  requests={REQUESTS} concurrency={CONCURRENCY}")
    print(
        f"  p50 {pct(timings, 0.5):6.1f} ms  p95 {pct(timings, 0.95):6.1f} ms  "
        f"p99 {pct(timings, 0.99):6.1f} ms  mean {statistics.mean(timings):6.1f} ms  "
        f"throughput {REQUESTS / wall:,.0f}/s"
    )
    await client.stop()
    await runtime.stop()


if __name__ == "__main__":
    from _embedded import run_on_embedded_servers

    run_on_embedded_servers(main)
