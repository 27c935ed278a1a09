"""Wire the ingest service into its runtime (bus handlers, HTTP routes, background loops)."""

from __future__ import annotations

from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.ingest.adapters.orm import outbox


def build(runtime: ServiceRuntime) -> None:
    runtime.use_outbox(outbox)
