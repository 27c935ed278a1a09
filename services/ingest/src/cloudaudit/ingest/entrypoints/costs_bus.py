"""Bus handlers of ingest: accounts (connect, ExternalId, list, sync) and spend, request/reply;
plus the background sync scheduler. Each handler parses, calls one service function, replies."""

from __future__ import annotations

import logging

from cloudaudit.common.actors import ActorVerifier, Command
from cloudaudit.common.errors import replies_with
from cloudaudit.common.events.account import (
    RPC_ACCOUNTS,
    RPC_CONNECT,
    RPC_EXTERNAL_ID,
    RPC_SYNC,
    AccountsReply,
    AccountsRequest,
    ConnectAccountReply,
    ConnectAccountRequest,
    ExternalIdReply,
    ExternalIdRequest,
    SyncReply,
    SyncRequest,
)
from cloudaudit.common.events.cost import RPC_SPEND, SpendReply, SpendRequest
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.common.settings import load_settings
from cloudaudit.ingest.adapters.aws import AwsGateway
from cloudaudit.ingest.adapters.orm import outbox
from cloudaudit.ingest.service import accounts, imports, spend
from cloudaudit.ingest.service.context import Ingest
from cloudaudit.ingest.service.sync import Syncer
from cloudaudit.ingest.settings import IngestSettings

log = logging.getLogger(__name__)

QUEUE = "ingest"


def ingest_settings(runtime: ServiceRuntime) -> IngestSettings:
    if isinstance(runtime.settings, IngestSettings):
        return runtime.settings
    return load_settings(IngestSettings)


def register(runtime: ServiceRuntime) -> None:
    settings = ingest_settings(runtime)
    ctx = Ingest(
        settings=settings,
        engine=runtime.engine,
        sessions=runtime.sessions,
        aws=AwsGateway.shared(settings),
        outbox=outbox,
        publisher=runtime.publish_outboxed,
    )
    syncer = Syncer(ctx)
    broker, names = runtime.broker, runtime.names
    verifier = ActorVerifier.for_service(runtime.settings, Audience.INGEST)

    async def interrupt_abandoned_imports() -> None:
        """At start: imports left `running` by a process that died are labelled `interrupted`
        (the next import of a team does the same; this clears them without waiting for one)."""
        try:
            await imports.interrupt_abandoned_imports(ctx)
        except Exception as exc:  # the next import of each team sweeps again
            log.warning("could not check for interrupted imports", extra={"error": str(exc)})

    runtime.background(interrupt_abandoned_imports)

    @broker.subscriber(names.subject(RPC_EXTERNAL_ID), queue=QUEUE, title="ingest.external_id")
    @replies_with(ExternalIdReply)
    async def on_external_id(request: ExternalIdRequest) -> ExternalIdReply:
        """The actor's team's ExternalId and a CloudFormation quick-create link (owners and
        admins)."""
        return await accounts.external_id(ctx, Command.verified(request, verifier))

    @broker.subscriber(names.subject(RPC_CONNECT), queue=QUEUE, title="ingest.connect")
    @replies_with(ConnectAccountReply)
    async def on_connect(request: ConnectAccountRequest) -> ConnectAccountReply:
        """Connect an AWS account by its read-only role; failures name the step and the fix."""
        return await accounts.connect_account(ctx, Command.verified(request, verifier))

    @broker.subscriber(names.subject(RPC_ACCOUNTS), queue=QUEUE, title="ingest.accounts")
    @replies_with(AccountsReply)
    async def on_accounts(request: AccountsRequest) -> AccountsReply:
        """The team's accounts with status, last error and this month's Cost Explorer spend."""
        return await accounts.list_accounts(ctx, Command.verified(request, verifier))

    @broker.subscriber(names.subject(RPC_SYNC), queue=QUEUE, title="ingest.sync")
    @replies_with(SyncReply)
    async def on_sync(request: SyncRequest) -> SyncReply:
        """Start Cost Explorer syncs now; `account.v1.synced` announces each one done."""
        return await syncer.request(Command.verified(request, verifier))

    @broker.subscriber(names.subject(RPC_SPEND), queue=QUEUE, title="ingest.spend")
    @replies_with(SpendReply)
    async def on_spend(request: SpendRequest) -> SpendReply:
        """Spend of the actor's team over [start, end), grouped, exact."""
        return await spend.spend_rpc(ctx, Command.verified(request, verifier))

    if settings.scheduler_enabled:
        runtime.background(syncer.scheduler_loop)
    runtime.on_stop(syncer.drain)
    runtime.notes.append(
        f"cost sync every {settings.sync_interval_minutes} min"
        + ("" if settings.scheduler_enabled else " (scheduler off)")
    )
