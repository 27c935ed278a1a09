"""Run a benchmark on its own embedded NATS + PostgreSQL in a temporary directory."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from cloudaudit.common.embedded import EmbeddedInfrastructure, free_port
from cloudaudit.common.runtime import Endpoints


def run_on_embedded_servers(main: Callable[[Endpoints], Awaitable[None]]) -> None:
    """Start fresh servers, run `main(endpoints)`, stop them and remove their data."""
    state = Path(tempfile.mkdtemp(prefix="cloudaudit-bench-"))
    infra = EmbeddedInfrastructure(state, free_port(), free_port())
    infra.nats.start()
    infra.postgres.start()
    try:
        asyncio.run(main(Endpoints(database_url=infra.postgres.url, nats_url=infra.nats.url)))
    finally:
        infra.nats.stop()
        infra.postgres.stop()
        shutil.rmtree(state, ignore_errors=True)
