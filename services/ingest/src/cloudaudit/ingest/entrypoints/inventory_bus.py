"""Bus handlers of ingest: the resource inventory analytics asks for (ingest.v1.rpc.inventory)."""

from __future__ import annotations

import functools

import boto3
from cloudaudit.common.db import UnitOfWork
from cloudaudit.common.events.inventory import RPC_INVENTORY, InventoryReply, InventoryRequest
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.common.settings import load_settings
from cloudaudit.ingest.adapters.inventory_accounts import (
    CombinedDirectory,
    ConnectedAccountDirectory,
    StaticAccountDirectory,
    open_session,
)
from cloudaudit.ingest.adapters.inventory_aws import AwsInventoryReader
from cloudaudit.ingest.adapters.inventory_settings import InventorySettings
from cloudaudit.ingest.adapters.orm import outbox
from cloudaudit.ingest.service.inventory import InventoryDeps, collect_inventory


def _settings(runtime: ServiceRuntime) -> InventorySettings:
    if isinstance(runtime.settings, InventorySettings):
        return runtime.settings
    return load_settings(InventorySettings)


def register(runtime: ServiceRuntime) -> None:
    settings = _settings(runtime)

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
        open_session=functools.partial(open_session, endpoint_url=settings.aws_endpoint_url),
        reader=reader,
        uow=lambda: UnitOfWork(runtime.sessions, outbox, runtime.publish_outboxed),
        findings=settings.inventory_findings,
    )

    @runtime.broker.subscriber(
        runtime.names.subject(RPC_INVENTORY), queue="ingest", title="ingest.inventory"
    )
    async def on_inventory(request: InventoryRequest) -> InventoryReply:
        """Resources of a team's AWS accounts with their utilisation, for recommendations."""
        return await collect_inventory(request, deps)
