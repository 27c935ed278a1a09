"""Wire the ingest service: accounts and cost data, and the resource inventory."""

from __future__ import annotations

from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.ingest.adapters.orm import outbox
from cloudaudit.ingest.entrypoints import costs_bus, inventory_bus


def build(runtime: ServiceRuntime) -> None:
    runtime.use_outbox(outbox)
    costs_bus.register(runtime)
    inventory_bus.register(runtime)
