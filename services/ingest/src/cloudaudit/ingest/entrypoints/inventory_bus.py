"""Bus handlers of ingest for recommendations: the resource inventory (ingest.v1.rpc.inventory,
paged) and what resources cost in the imported cost report (ingest.v1.rpc.resource_costs).
Analytics asks them for a team named in the request: system work, not a person's (the bus
permissions let only analytics publish these subjects)."""

from __future__ import annotations

from typing import Annotated

import boto3
from cloudaudit.common.deps import NewUnitOfWork, ServiceDeps
from cloudaudit.common.errors import replies_with
from cloudaudit.common.events.inventory import (
    RPC_INVENTORY,
    RPC_RESOURCE_COSTS,
    InventoryReply,
    InventoryRequest,
    ResourceCostsReply,
    ResourceCostsRequest,
)
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.ingest.adapters.aws import AwsGateway
from cloudaudit.ingest.adapters.inventory_accounts import (
    AccessDenied,
    AccountAccess,
    CombinedDirectory,
    ConnectedAccountDirectory,
    StaticAccountDirectory,
    new_session,
)
from cloudaudit.ingest.adapters.inventory_aws import AwsInventoryReader
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.domain.arn import parse_role_arn
from cloudaudit.ingest.domain.errors import IngestError
from cloudaudit.ingest.service.deps import IngestDeps, InventorySources, SessionOpener
from cloudaudit.ingest.service.inventory_pages import inventory_page
from cloudaudit.ingest.service.resource_costs import resource_costs
from cloudaudit.ingest.settings import IngestSettings

Deps = Annotated[IngestDeps, ServiceDeps]
Uow = Annotated[IngestUnitOfWork, NewUnitOfWork]
QUEUE = "ingest"


def session_opener(gateway: AwsGateway) -> SessionOpener:
    """Sessions in customers' accounts from the gateway's credential cache (ExternalId sent,
    never logged); accounts without a role use ingest's own credentials."""

    def open_session(access: AccountAccess) -> boto3.Session:
        if not access.role_arn:
            return new_session()
        try:
            return gateway.role_session(parse_role_arn(access.role_arn), access.external_id or "")
        except IngestError as exc:
            raise AccessDenied(exc.message) from None

    return open_session


def sources(
    runtime: ServiceRuntime, settings: IngestSettings, gateway: AwsGateway
) -> InventorySources:
    """Connected accounts first, then the accounts named in settings (single-account installs)."""

    def reader(session: boto3.Session) -> AwsInventoryReader:
        return AwsInventoryReader(
            session,
            settings.aws_endpoint_url,
            settings.inventory_aws_timeout_s,
            settings.inventory_aws_max_attempts,
        )

    return InventorySources(
        directory=CombinedDirectory(
            ConnectedAccountDirectory(runtime.sessions, settings.regions),
            StaticAccountDirectory(settings),
        ),
        open_session=session_opener(gateway),
        reader=reader,
    )


def register(runtime: ServiceRuntime) -> None:
    broker, names = runtime.broker, runtime.names

    @broker.subscriber(names.subject(RPC_INVENTORY), queue=QUEUE, title="ingest.inventory")
    @replies_with(InventoryReply)
    async def on_inventory(request: InventoryRequest, uow: Uow, deps: Deps) -> InventoryReply:
        """Resources of a team's AWS accounts with their utilisation, for recommendations;
        one page per reply (ask again with next_cursor)."""
        return await inventory_page(request, uow, deps)

    @broker.subscriber(
        runtime.names.subject(RPC_RESOURCE_COSTS), queue=QUEUE, title="ingest.resource_costs"
    )
    @replies_with(ResourceCostsReply)
    async def on_resource_costs(request: ResourceCostsRequest, uow: Uow) -> ResourceCostsReply:
        """Per-resource cost, usage and effective rate from the imported cost report, and the
        account's Savings Plan / RI coverage of EC2 usage."""
        return await resource_costs(request, uow)
