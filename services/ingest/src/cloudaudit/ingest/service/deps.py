"""What ingest's handlers need besides the message and the unit of work, built once at start."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import boto3
from cloudaudit.common.actors import ActorVerifier
from cloudaudit.common.clock import utcnow
from cloudaudit.ingest.adapters.aws import AwsGateway
from cloudaudit.ingest.adapters.inventory_accounts import AccountAccess, AccountDirectory
from cloudaudit.ingest.adapters.inventory_aws import AwsInventoryReader
from cloudaudit.ingest.adapters.leases import Leases
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.settings import IngestSettings

SessionOpener = Callable[[AccountAccess], boto3.Session]
SYNC_CONCURRENCY = 4


@dataclass(frozen=True, kw_only=True)
class InventorySources:
    """Where an inventory reads from: which accounts a team has, a boto3 session in each, and
    the reader that lists resources and their metrics."""

    directory: AccountDirectory
    open_session: SessionOpener
    reader: Callable[[boto3.Session], AwsInventoryReader]


@dataclass(frozen=True, kw_only=True)
class IngestDeps:
    """Ingest's settings (read once), its unit-of-work factory, AWS, the session locks held
    outside a transaction, the actor-token verifier (bus handlers; the operator's CLI has
    none) and the clock (the product's settable one, read at each call)."""

    settings: IngestSettings
    uow: Callable[[], IngestUnitOfWork]
    aws: AwsGateway
    leases: Leases
    verifier: ActorVerifier | None = None
    inventory: InventorySources | None = None
    now: Callable[[], datetime] = utcnow
    syncs: BackgroundWork = field(default_factory=lambda: BackgroundWork(SYNC_CONCURRENCY))


class BackgroundWork:
    """Work the service runs after it replied (Cost Explorer syncs, on demand and scheduled),
    at most `concurrency` at once; `drain` waits for all of it (tests and shutdown)."""

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.create_task(self._run(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, work: Callable[[], Awaitable[None]]) -> None:
        async with self._slots:
            await work()

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
