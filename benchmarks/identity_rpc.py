"""What vouching for a person costs (budget: well under 50 ms a round trip).

Every Slack interaction asks identity once for the person's actor tokens (one signed token per
service the bot calls); every service then verifies the token locally, without asking anyone.
This prints the round trip of `identity.v1.rpc.slack_user` (4 Ed25519 tokens) on the embedded
stack and the local verification time.

Run: .venv/bin/python benchmarks/identity_rpc.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time

from cloudaudit.common.actors import ActorVerifier
from cloudaudit.common.bus import BusNames, ensure_streams, make_broker, rpc
from cloudaudit.common.events.identity import (
    RPC_SLACK_USER,
    Audience,
    SlackUserReply,
    SlackUserRequest,
)
from cloudaudit.common.migrations import upgrade
from cloudaudit.common.runtime import Endpoints, build_runtime
from cloudaudit.common.service import discover_services
from cloudaudit.common.settings import CommonSettings
from cloudaudit.common.testing_people import SlackWorkspace, bus_ask

REQUESTS = 500
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "10"))


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


async def main(endpoints: Endpoints) -> None:
    spec = discover_services()["identity"]
    await upgrade(spec.migrations, endpoints.database_url, spec.schema)
    state = tempfile.mkdtemp(prefix="cloudaudit-bench-keys-")  # identity makes its key here
    settings = CommonSettings(  # type: ignore[call-arg]
        CLOUDAUDIT_BUS_PREFIX="bench", CLOUDAUDIT_STATE_DIR=state
    )
    runtime = build_runtime(spec, settings, endpoints, http_port=0)
    await runtime.start()
    names = BusNames("bench")
    client = make_broker(endpoints.nats_url, names, "bench", 3)
    await client.connect()
    await ensure_streams(client, names)
    owner = await SlackWorkspace(bus_ask(client, names), "TBENCH").install("U1")  # the owner
    ask = SlackUserRequest.full_member("TBENCH", "U1")
    timings: list[float] = []
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with semaphore:
            started = time.perf_counter()
            reply = await rpc(client, names, RPC_SLACK_USER, ask, SlackUserReply)
            assert len(reply.tokens) == 4
            timings.append((time.perf_counter() - started) * 1000)

    wall = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(REQUESTS)))
    wall = time.perf_counter() - wall
    print(
        f"identity.v1.rpc.slack_user (4 actor tokens)  requests={REQUESTS} "
        f"concurrency={CONCURRENCY}"
    )
    print(
        f"  p50 {pct(timings, 0.5):6.1f} ms  p95 {pct(timings, 0.95):6.1f} ms  "
        f"p99 {pct(timings, 0.99):6.1f} ms  mean {statistics.mean(timings):6.1f} ms  "
        f"throughput {REQUESTS / wall:,.0f}/s"
    )
    verifier = ActorVerifier.for_service(settings, Audience.ANALYTICS)
    token = owner.tokens[Audience.ANALYTICS].get_secret_value()
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        verifier.verify(token)
    each_us = (time.perf_counter() - started) / rounds * 1e6
    print(f"actor token verification (local, Ed25519)  {each_us:6.1f} µs each")
    await client.stop()
    await runtime.stop()


if __name__ == "__main__":
    from _embedded import run_on_embedded_servers

    run_on_embedded_servers(main)
