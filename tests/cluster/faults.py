"""The faults of the multi-host run, and what recovers from each (what Kubernetes would do:
restart the killed pod; PostgreSQL's old primary stays down, the promoted replica serves)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from tests.cluster.stack import ClusterStack
from tests.cluster.topology import NatsNode, Replica

KILLED_REPLICA = "a"  # one replica of each service dies; its twin carries on


@dataclass
class Faults:
    stack: ClusterStack
    killed_node: NatsNode | None = None
    killed: list[Replica] = field(default_factory=list)

    async def kill_stream_leader(self) -> dict[str, Any]:
        """kill -9 the node leading the COST stream (the harder case: a leader election)."""
        info = await self.stack.stream_info("COST")
        leader = info.cluster.leader if info.cluster else None
        node = next(n for n in self.stack.nats.nodes if n.server_name == leader)
        assert node.proc is not None
        node.proc.kill()
        self.killed_node = node
        return {"killed": node.server_name, "was": "COST stream leader"}

    async def restart_nats(self) -> None:
        assert self.killed_node is not None
        self.stack.nats.start(self.killed_node)
        await self.stack.nats_ready(self.stack.nats.nodes)

    async def kill_replicas(self) -> dict[str, Any]:
        self.killed = [self.stack.fleet.replicas[f"{s}-{KILLED_REPLICA}"] for s in _SERVICES]
        for replica in self.killed:
            assert replica.proc is not None
            replica.proc.kill()
        return {"killed": [r.name for r in self.killed]}

    async def restart_replicas(self) -> None:
        for replica in self.killed:
            self.stack.fleet.start(replica)
        await self.stack.ready(self.killed)

    async def fail_over(self) -> dict[str, Any]:
        """`pg_ctl stop -m immediate` on the primary, then promote the synchronous replica;
        the services find it through their URL's host list (target_session_attrs)."""
        pg = self.stack.pg
        started = time.monotonic()
        await asyncio.to_thread(pg.stop_immediate, pg.primary)
        stopped = time.monotonic()
        await asyncio.to_thread(pg.promote, pg.replica)
        return {
            "stopped": pg.primary.host.address,
            "promoted": pg.replica.host.address,
            "stop_s": round(stopped - started, 2),
            "promote_s": round(time.monotonic() - stopped, 2),
        }

    async def services_ready(self) -> None:
        """Every replica ready again, which means its database check reached the new primary."""
        await self.stack.ready(list(self.stack.fleet.replicas.values()))


_SERVICES = ("identity", "ingest", "analytics", "bot")
