"""Wire the ingest service: its deps (settings read once), accounts and cost data, the
resource inventory, and the background sync scheduler."""

from __future__ import annotations

import logging

from cloudaudit.common.actors import ActorVerifier
from cloudaudit.common.db import Publisher
from cloudaudit.common.deps import provide, service_settings
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.ingest.adapters.aws import AwsGateway
from cloudaudit.ingest.adapters.leases import Leases
from cloudaudit.ingest.adapters.orm import outbox
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.entrypoints import costs_bus, inventory_bus
from cloudaudit.ingest.service import imports, sync
from cloudaudit.ingest.service.deps import IngestDeps, InventorySources
from cloudaudit.ingest.settings import IngestSettings
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

log = logging.getLogger(__name__)


def build(runtime: ServiceRuntime) -> None:
    settings = service_settings(runtime.settings, IngestSettings)
    aws = AwsGateway.shared(settings)
    deps = ingest_deps(
        settings,
        runtime.engine,
        publisher=runtime.publish_outboxed,
        verifier=ActorVerifier.for_service(settings, Audience.INGEST),
        inventory=inventory_bus.sources(runtime, settings, aws),
        aws=aws,
    )
    runtime.use_outbox(outbox)
    runtime.forget_deleted_teams(outbox.metadata)  # every table of the schema with a team_id
    provide(runtime.broker, deps)
    costs_bus.register(runtime)
    inventory_bus.register(runtime)
    _background(runtime, deps)


def _background(runtime: ServiceRuntime, deps: IngestDeps) -> None:
    async def interrupt_abandoned_imports() -> None:
        """At start: imports left `running` by a process that died are labelled `interrupted`
        (the next import of a team does the same; this clears them without waiting for one)."""
        try:
            await imports.interrupt_abandoned_imports(deps)
        except Exception as exc:  # the next import of each team sweeps again
            log.warning("could not check for interrupted imports", extra={"error": str(exc)})

    async def scheduler() -> None:
        await sync.scheduler_loop(deps)

    runtime.background(interrupt_abandoned_imports)
    if deps.settings.scheduler_enabled:
        runtime.background(scheduler)
    runtime.on_stop(deps.syncs.drain)
    runtime.notes.append(
        f"cost sync every {deps.settings.sync_interval_minutes} min"
        + ("" if deps.settings.scheduler_enabled else " (scheduler off)")
    )


def ingest_deps(
    settings: IngestSettings,
    engine: AsyncEngine,
    *,
    publisher: Publisher | None = None,
    verifier: ActorVerifier | None = None,
    inventory: InventorySources | None = None,
    aws: AwsGateway | None = None,
) -> IngestDeps:
    """Ingest's deps on a database engine: units of work with the outbox (published after
    commit by `publisher`, else by the relay), session locks on their own connections."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    return IngestDeps(
        settings=settings,
        uow=lambda: IngestUnitOfWork(sessions, outbox, publisher),
        aws=aws or AwsGateway(settings),
        leases=Leases(engine),
        verifier=verifier,
        inventory=inventory,
    )
