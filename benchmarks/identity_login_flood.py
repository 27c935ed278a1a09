"""Identity under a log-in flood: does vouching for people stay fast while passwords are hashed?

Identity runs as its own process (`cloudaudit run identity`, as in production) on fresh embedded
servers. The benchmark asks `identity.v1.rpc.slack_user` (actor-token issuance: what every Slack
button press needs) at a steady pace, first with identity idle, then while FLOOD_CLIENTS clients
log in over HTTP without pause (argon2id, ~50 ms of CPU each). It prints p50/p95/p99 of the RPC
in both phases, the log-ins served, and identity's own event-loop lag
(`cloudaudit_event_loop_lag_seconds`, read from its /metrics). Targets: RPC p99 under 100 ms and
loop lag under 50 ms during the flood.

Run: .venv/bin/python benchmarks/identity_login_flood.py
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cloudaudit.common.bus import BusNames, make_broker, rpc
from cloudaudit.common.embedded import free_port, port_open
from cloudaudit.common.events.identity import RPC_SLACK_USER, SlackUserReply, SlackUserRequest
from cloudaudit.common.runtime import Endpoints
from cloudaudit.common.testing_people import SlackWorkspace, bus_ask

RPCS = int(os.environ.get("BENCH_RPCS", "200"))
FLOOD_CLIENTS = int(os.environ.get("BENCH_FLOOD_CLIENTS", "16"))
RPC_PAUSE_S = 0.02
PREFIX = "bench"


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


def _start_identity(endpoints: Endpoints, state: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    api, health = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": endpoints.database_url,
        "NATS_URL": endpoints.nats_url,
        "CLOUDAUDIT_BUS_PREFIX": PREFIX,
        "CLOUDAUDIT_STATE_DIR": str(state),
        "CLOUDAUDIT_EMBEDDED_SMTP_PORT": "0",
        "IDENTITY_API_PORT": str(api),
        "IDENTITY_HTTP_PORT": str(health),
        "CLOUDAUDIT_LOG_LEVEL": "WARNING",
    }
    log = (state / "identity.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudaudit.common", "run", "identity"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not (port_open(api) and port_open(health)):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"identity did not start; its log: {state / 'identity.log'}")
        time.sleep(0.2)
    return proc, api, health


async def _lag(http: httpx.AsyncClient, health: int) -> tuple[float, int, dict[float, int]]:
    """identity's loop-lag histogram: (sum, count, cumulative count per bucket bound)."""
    text = (await http.get(f"http://127.0.0.1:{health}/metrics")).text
    buckets = {
        float(m.group(1)): int(float(m.group(2)))
        for m in re.finditer(
            r'cloudaudit_event_loop_lag_seconds_bucket\{le="([0-9.]+)",service="identity"\} (\S+)',
            text,
        )
    }
    total = re.search(r'cloudaudit_event_loop_lag_seconds_sum\{service="identity"\} (\S+)', text)
    count = re.search(r'cloudaudit_event_loop_lag_seconds_count\{service="identity"\} (\S+)', text)
    return (
        float(total.group(1)) if total else 0.0,
        int(float(count.group(1))) if count else 0,
        buckets,
    )


def _lag_line(
    before: tuple[float, int, dict[float, int]], after: tuple[float, int, dict[float, int]]
) -> str:
    samples = after[1] - before[1]
    if samples <= 0:
        return "event-loop lag: no samples"
    over = {b: samples - (after[2][b] - before[2].get(b, 0)) for b in after[2]}
    p99_bound = next((b for b in sorted(over) if over[b] <= samples * 0.01), float("inf"))
    mean_ms = (after[0] - before[0]) / samples * 1000
    return (
        f"event-loop lag: mean {mean_ms:5.1f} ms, p99 <= {p99_bound * 1000:.0f} ms, "
        f"{over.get(0.05, 0)} of {samples} samples over 50 ms"
    )


async def _people(client, names: BusNames) -> None:
    """The workspace's installer owns its team and invites the other 19."""
    people = SlackWorkspace(bus_ask(client, names), "TFLOOD")
    owner = await people.install("U0")
    for n in range(1, 20):
        await people.invite(owner, f"U{n}")


async def _rpcs(client, names: BusNames) -> list[float]:
    timings = []
    for n in range(RPCS):
        started = time.perf_counter()
        ask = SlackUserRequest.full_member("TFLOOD", f"U{n % 20}")
        reply = await rpc(client, names, RPC_SLACK_USER, ask, SlackUserReply)
        assert reply.ok, reply.error
        timings.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(RPC_PAUSE_S)
    return timings


async def _flood(api: int, stop: asyncio.Event) -> int:
    served = 0

    async def one_client(n: int) -> None:
        nonlocal served
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api}", timeout=30) as http:
            while not stop.is_set():
                await http.post(
                    "/api/v1/login",
                    json={"email": f"flood{n}@bench.test", "password": "not-the-password-at-all"},
                )
                served += 1

    await asyncio.gather(*(one_client(n) for n in range(FLOOD_CLIENTS)))
    return served


def _summary(name: str, timings: list[float]) -> str:
    return (
        f"{name:<28} p50 {pct(timings, 0.5):6.1f} ms  p95 {pct(timings, 0.95):6.1f} ms  "
        f"p99 {pct(timings, 0.99):6.1f} ms  max {max(timings):6.1f} ms"
    )


async def main(endpoints: Endpoints) -> None:
    state = Path(tempfile.mkdtemp(prefix="cloudaudit-bench-flood-"))
    proc, api, health = _start_identity(endpoints, state)
    names = BusNames(PREFIX)
    client = make_broker(endpoints.nats_url, names, "bench", 3)
    await client.connect()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await _people(client, names)
            await _rpcs(client, names)  # warm up: the invited people join, pools fill
            idle_before = await _lag(http, health)
            idle = await _rpcs(client, names)
            idle_after = await _lag(http, health)
            stop = asyncio.Event()
            flood = asyncio.create_task(_flood(api, stop))
            await asyncio.sleep(1.0)  # the flood under way
            flood_before = await _lag(http, health)
            loaded = await _rpcs(client, names)
            flood_after = await _lag(http, health)
            stop.set()
            served = await flood
        print(
            f"identity_rpc during a log-in flood ({os.cpu_count()} cores, {FLOOD_CLIENTS} clients)"
        )
        print(_summary("slack_user, identity idle", idle))
        print("  " + _lag_line(idle_before, idle_after))
        print(_summary("slack_user, log-in flood", loaded))
        print("  " + _lag_line(flood_before, flood_after))
        print(f"  log-ins answered during the run: {served}")
    finally:
        await client.stop()
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from _embedded import run_on_embedded_servers

    run_on_embedded_servers(main)
