"""A multi-host run on one machine: a 3-node NATS JetStream cluster with per-service users,
PostgreSQL with a synchronous streaming replica, and two replicas of every service, each in
its own network namespace on a private bridge; load through analytics and the bot while a NATS
node, a replica of every service and the database primary are killed. Prints cost event ->
Slack alert p50/p95 before, during and after each fault (README "Multi-host run").

The run itself is `tests/cluster/scenario.py`, PID 1 of fresh network, mount and PID
namespaces, so it can touch no interface of this machine and leaves no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cloudaudit.common.bus_credentials import SERVICES
from cloudaudit.common.logging import share_logs_for_scan

from tests.cluster.netns import HOST_NETNS_ENV, in_private_network, netns_inode, why_unavailable

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 540
# A developer's shortcut: CLUSTER_STAGE=infra or services stops the run early.
STAGE = os.environ.get("CLUSTER_STAGE", "load")

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(RUN_TIMEOUT_S + 60)]


def run_scenario(workdir: Path) -> dict:
    report_path = workdir / "report.json"
    # Every service's log joins the session's scan for secrets (the services list theirs).
    (workdir / "logs").mkdir()
    share_logs_for_scan(workdir / "logs", "cluster")
    env = {**os.environ, HOST_NETNS_ENV: str(netns_inode())}
    argv = [sys.executable, "-m", "tests.cluster.scenario", "--workdir", str(workdir)]
    argv += ["--report", str(report_path), "--stage", STAGE]
    proc = subprocess.Popen(in_private_network(argv), cwd=ROOT, env=env)
    try:
        proc.wait(RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()  # unshare --kill-child takes the whole run with it
        proc.wait(30)
        pytest.fail(f"the cluster run took longer than {RUN_TIMEOUT_S}s; logs in {workdir}/logs")
    if not report_path.exists():
        pytest.fail(f"the cluster run wrote no report (exit {proc.returncode}); logs in {workdir}")
    return json.loads(report_path.read_text(encoding="utf-8"))


def test_a_cluster_of_namespaces_survives_node_replica_and_primary_loss_under_load(
    tmp_path: Path,
) -> None:
    reason = why_unavailable()
    if reason:
        pytest.skip(reason)
    report = run_scenario(tmp_path)
    assert report["ok"], report.get("error")

    streams = report["facts"]["streams"]
    assert {s["replicas"] for s in streams.values()} == {3}
    assert all(len(s["peers"]) == 2 for s in streams.values()), streams
    refusals = report["facts"]["bus_refusals"]
    assert all(refusals.values()), refusals  # each attempt was refused
    replication = report["facts"]["replication"]
    assert (replication["state"], replication["sync_state"]) == ("streaming", "sync")
    assert set(report["facts"]["roles_on_replica"]) == {f"cloudaudit_{s}" for s in SERVICES}
    if STAGE == "infra":
        return

    probes = report["probes"]
    assert len(probes) == 8
    for name, probe in probes.items():
        assert (probe["healthz"], probe["readyz"]) == (200, 200), (name, probe)
        assert probe["address"].startswith("10.231.0."), (name, probe)
    if STAGE == "services":
        return

    failed = {name: c["detail"] for name, c in report["checks"].items() if not c["ok"]}
    assert not failed, failed
    for round_ in report["rounds"]:
        assert round_["alerted"] == round_["spikes"], round_
