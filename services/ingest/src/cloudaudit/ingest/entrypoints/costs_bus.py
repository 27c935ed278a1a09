"""Bus handlers of ingest: accounts (connect, ExternalId, list, sync) and spend, request/reply.
Each handler verifies the actor's token, calls one service function, replies; FastStream hands
it ingest's deps (provided once at start) and a fresh unit of work."""

from __future__ import annotations

from typing import Annotated, TypeVar

from cloudaudit.common.actors import Command
from cloudaudit.common.deps import NewUnitOfWork, ServiceDeps
from cloudaudit.common.errors import replies_with
from cloudaudit.common.events.account import (
    RPC_ACCOUNTS,
    RPC_CONNECT,
    RPC_DISCONNECT,
    RPC_EXTERNAL_ID,
    RPC_SYNC,
    AccountsReply,
    AccountsRequest,
    ConnectAccountReply,
    ConnectAccountRequest,
    DisconnectAccountReply,
    DisconnectAccountRequest,
    ExternalIdReply,
    ExternalIdRequest,
    SyncReply,
    SyncRequest,
)
from cloudaudit.common.events.base import ActorRequest
from cloudaudit.common.events.cost import RPC_SPEND, SpendReply, SpendRequest
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.service import accounts, spend, sync
from cloudaudit.ingest.service.deps import IngestDeps

Deps = Annotated[IngestDeps, ServiceDeps]
Uow = Annotated[IngestUnitOfWork, NewUnitOfWork]
QUEUE = "ingest"


Q = TypeVar("Q", bound=ActorRequest)


def verified(request: Q, deps: IngestDeps) -> Command[Q]:
    """The actor from the request's token, checked with identity's public keys."""
    if deps.verifier is None:  # the service is always built with one; only the CLI has none
        raise RuntimeError("ingest's bus handlers need an actor-token verifier")
    return Command.verified(request, deps.verifier)


def register(runtime: ServiceRuntime) -> None:
    broker, names = runtime.broker, runtime.names

    @broker.subscriber(names.subject(RPC_EXTERNAL_ID), queue=QUEUE, title="ingest.external_id")
    @replies_with(ExternalIdReply)
    async def on_external_id(request: ExternalIdRequest, deps: Deps) -> ExternalIdReply:
        """The actor's team's ExternalId and a CloudFormation quick-create link (owners and
        admins)."""
        return await accounts.external_id(deps, verified(request, deps))

    @broker.subscriber(names.subject(RPC_CONNECT), queue=QUEUE, title="ingest.connect")
    @replies_with(ConnectAccountReply)
    async def on_connect(request: ConnectAccountRequest, deps: Deps) -> ConnectAccountReply:
        """Connect an AWS account by its read-only role; failures name the step and the fix."""
        return await accounts.connect_account(deps, verified(request, deps))

    @broker.subscriber(names.subject(RPC_ACCOUNTS), queue=QUEUE, title="ingest.accounts")
    @replies_with(AccountsReply)
    async def on_accounts(request: AccountsRequest, deps: Deps) -> AccountsReply:
        """The team's accounts with status, last error and this month's Cost Explorer spend."""
        return await accounts.list_accounts(deps, verified(request, deps))

    @broker.subscriber(names.subject(RPC_SYNC), queue=QUEUE, title="ingest.sync")
    @replies_with(SyncReply)
    async def on_sync(request: SyncRequest, uow: Uow, deps: Deps) -> SyncReply:
        """Start Cost Explorer syncs now; `account.v1.synced` announces each one done."""
        return await sync.request_sync(verified(request, deps), uow, deps)

    @broker.subscriber(names.subject(RPC_DISCONNECT), queue=QUEUE, title="ingest.disconnect")
    @replies_with(DisconnectAccountReply)
    async def on_disconnect(
        request: DisconnectAccountRequest, deps: Deps
    ) -> DisconnectAccountReply:
        """Stop syncing an account (owners/admins); with delete_data its data goes too."""
        return await accounts.disconnect_account(deps, verified(request, deps))

    @broker.subscriber(names.subject(RPC_SPEND), queue=QUEUE, title="ingest.spend")
    @replies_with(SpendReply)
    async def on_spend(request: SpendRequest, deps: Deps) -> SpendReply:
        """Spend of the actor's team over [start, end), grouped, exact."""
        return await spend.spend_rpc(deps, verified(request, deps))
