"""The multi-host run, as PID 1 of its own namespaces (`tests/cluster/test_cluster.py` starts
it through `netns.in_private_network`): build the network, start the cluster, drive load,
inject faults, verify, and write what it measured and counted to a JSON report.

    python -m tests.cluster.scenario --workdir DIR --report FILE [--stage infra|services|load]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

from tests.cluster.netns import PrivateNetwork  # noqa: E402
from tests.cluster.stack import TRANSCRIPT, ClusterStack, say  # noqa: E402

STAGES = ("infra", "services", "load")


async def infrastructure(stack: ClusterStack, report: dict[str, Any]) -> dict[str, str]:
    started = time.monotonic()
    await stack.start_nats()
    report["timings_s"]["nats"] = round(time.monotonic() - started, 1)
    say(f"NATS: 3 nodes, streams {_streams_line(stack.facts['streams'])}")
    say(f"NATS refused: {stack.facts['bus_refusals']}")
    started = time.monotonic()
    await stack.start_postgres()
    urls = await stack.migrate()
    report["timings_s"]["postgres"] = round(time.monotonic() - started, 1)
    replication = stack.facts["replication"]
    say(
        f"PostgreSQL: primary {stack.pg.primary.host.address}, replica "
        f"{replication['client']} {replication['state']} ({replication['sync_state']}); "
        f"roles read on the replica: {', '.join(stack.facts['roles_on_replica'])}"
    )
    report["facts"].update(stack.facts)
    return urls


async def services(stack: ClusterStack, urls: dict[str, str], report: dict[str, Any]) -> None:
    started = time.monotonic()
    await stack.start_standins()
    await stack.start_services(urls)
    report["timings_s"]["services"] = round(time.monotonic() - started, 1)
    probes = {}
    for name, replica in stack.fleet.replicas.items():
        probes[name] = {"address": replica.host.address, **await stack.probe(replica)}
    report["probes"] = probes
    say(
        "services: "
        + ", ".join(f"{n}@{p['address']} {p['healthz']}/{p['readyz']}" for n, p in probes.items())
    )


def _streams_line(streams: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{name} R{s['replicas']} leader {s['leader']}" for name, s in streams.items())


async def run(args: argparse.Namespace, report: dict[str, Any]) -> None:
    stage = STAGES.index(args.stage)
    net = PrivateNetwork(args.workdir / "logs")
    stack = ClusterStack(net, args.workdir)
    try:
        with net:
            await _run_on(stack, stage, report, args)
    finally:
        stack.remove_data()


async def _run_on(
    stack: ClusterStack, stage: int, report: dict[str, Any], args: argparse.Namespace
) -> None:
    try:
        urls = await infrastructure(stack, report)
        if stage >= 1:
            await services(stack, urls, report)
        if stage >= 2:
            from tests.cluster.load import load_and_faults

            await load_and_faults(stack, report, args)
    finally:
        await stack.stop_standins()


def main() -> None:
    # The driver's own bus client says when a node it used dies; its publishes are retried
    # and counted, so one line is enough (no traceback).
    logging.basicConfig(level=logging.WARNING, format="[cluster] %(name)s: %(message)s")
    logging.getLogger("cloudaudit.load.bus").setLevel(logging.ERROR)
    # The refusals the run provokes on purpose are in its report, not tracebacks.
    logging.getLogger("cloudaudit.refused.bus").setLevel(logging.CRITICAL)
    logging.getLogger("nats.aio.client").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--stage", choices=STAGES, default="load")
    parser.add_argument(
        "--accounts", type=int, default=int(os.environ.get("CLUSTER_ACCOUNTS", 100))
    )
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("CLUSTER_ROUNDS", 7)))
    parser.add_argument("--days", type=int, default=int(os.environ.get("CLUSTER_DAYS", 28)))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    TRANSCRIPT.append(args.workdir / "scenario.log")
    report: dict[str, Any] = {"ok": False, "timings_s": {}, "facts": {}, "checks": {}}
    started = time.monotonic()
    try:
        asyncio.run(run(args, report))
        report["ok"] = True
    except BaseException as exc:
        report["error"] = "".join(traceback.format_exception(exc))[-4000:]
        traceback.print_exc()
    report["timings_s"]["total"] = round(time.monotonic() - started, 1)
    args.report.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
