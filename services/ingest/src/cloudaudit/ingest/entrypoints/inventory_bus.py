"""Bus handlers of ingest for recommendations: the resource inventory (ingest.v1.rpc.inventory,
paged) and what resources cost in the imported cost report (ingest.v1.rpc.resource_costs)."""

from __future__ import annotations

import boto3
from cloudaudit.common.db import UnitOfWork
from cloudaudit.common.events.inventory import (
    RPC_INVENTORY,
    RPC_RESOURCE_COSTS,
    InventoryReply,
    InventoryRequest,
    ResourceCostsReply,
    ResourceCostsRequest,
)
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.common.settings import load_settings
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
from cloudaudit.ingest.adapters.inventory_pages import InventoryPageSettings
from cloudaudit.ingest.adapters.inventory_settings import InventorySettings
from cloudaudit.ingest.adapters.orm import outbox
from cloudaudit.ingest.domain.arn import parse_role_arn
from cloudaudit.ingest.domain.errors import IngestError
from cloudaudit.ingest.service.inventory import InventoryDeps, collect_inventory
from cloudaudit.ingest.service.inventory_pages import PageDeps, inventory_page
from cloudaudit.ingest.service.resource_costs import resource_costs
from cloudaudit.ingest.settings import IngestSettings


def _settings(runtime: ServiceRuntime) -> InventorySettings:
    if isinstance(runtime.settings, InventorySettings):
        return runtime.settings
    return load_settings(InventorySettings)


def _gateway_settings(runtime: ServiceRuntime, settings: InventorySettings) -> IngestSettings:
    """Ingest's AWS settings, sending calls where the inventory's go."""
    base = (
        runtime.settings
        if isinstance(runtime.settings, IngestSettings)
        else load_settings(IngestSettings)
    )
    if settings.aws_endpoint_url and base.aws_endpoint_url != settings.aws_endpoint_url:
        base = base.model_copy(update={"aws_endpoint_url": settings.aws_endpoint_url})
    return base


def session_opener(gateway: AwsGateway):  # type: ignore[no-untyped-def]
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


def register(runtime: ServiceRuntime) -> None:
    settings = _settings(runtime)
    gateway = AwsGateway.shared(_gateway_settings(runtime, settings))

    def reader(session: boto3.Session) -> AwsInventoryReader:
        return AwsInventoryReader(
            session,
            settings.aws_endpoint_url,
            settings.inventory_aws_timeout_s,
            settings.inventory_aws_max_attempts,
        )

    deps = InventoryDeps(
        directory=CombinedDirectory(
            ConnectedAccountDirectory(runtime.sessions, settings.regions),
            StaticAccountDirectory(settings),
        ),
        open_session=session_opener(gateway),
        reader=reader,
        uow=lambda: UnitOfWork(runtime.sessions, outbox, runtime.publish_outboxed),
        findings=settings.inventory_findings,
    )

    async def collect(request: InventoryRequest) -> InventoryReply:
        return await collect_inventory(request, deps)

    pages = PageDeps(collect, runtime.sessions, load_settings(InventoryPageSettings))

    @runtime.broker.subscriber(
        runtime.names.subject(RPC_INVENTORY), queue="ingest", title="ingest.inventory"
    )
    async def on_inventory(request: InventoryRequest) -> InventoryReply:
        """Resources of a team's AWS accounts with their utilisation, for recommendations;
        one page per reply (ask again with next_cursor)."""
        return await inventory_page(request, pages)

    @runtime.broker.subscriber(
        runtime.names.subject(RPC_RESOURCE_COSTS), queue="ingest", title="ingest.resource_costs"
    )
    async def on_resource_costs(request: ResourceCostsRequest) -> ResourceCostsReply:
        """Per-resource cost, usage and effective rate from the imported cost report, and the
        account's Savings Plan / RI coverage of EC2 usage."""
        return await resource_costs(request, runtime.sessions)
