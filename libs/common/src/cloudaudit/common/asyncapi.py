"""The AsyncAPI document of the whole bus, generated from every service's FastStream broker."""

from __future__ import annotations

import json
from typing import Any

from cloudaudit.common import __version__
from cloudaudit.common.runtime import Endpoints, build_runtime
from cloudaudit.common.service import ServiceSpec
from cloudaudit.common.settings import CommonSettings
from faststream.specification import AsyncAPI


def generate(specs: dict[str, ServiceSpec]) -> dict[str, Any]:
    """Build each service's broker (without connecting) and merge their documents."""
    settings = CommonSettings(CLOUDAUDIT_BUS_PREFIX="")  # type: ignore[call-arg]
    endpoints = Endpoints(
        database_url="postgresql://docs@localhost/docs", nats_url="nats://localhost:4222"
    )
    merged: dict[str, Any] = {}
    for spec in specs.values():
        runtime = build_runtime(spec, settings, endpoints, 0, api_port=0)
        schema = (
            AsyncAPI(
                runtime.broker,
                title=f"CloudAudit {spec.name}",
                version=__version__,
                description=f"Messages the {spec.name} service consumes and publishes.",
                schema_version="3.0.0",
            )
            .to_specification()
            .to_jsonable()
        )
        if not merged:
            merged = {
                k: v for k, v in schema.items() if k not in ("channels", "operations", "components")
            }
            merged["info"] = {
                "title": "CloudAudit bus",
                "version": __version__,
                "description": "Every subject of the CloudAudit bus, per service.",
            }
            merged.update(
                {"channels": {}, "operations": {}, "components": {"messages": {}, "schemas": {}}}
            )
        merged["channels"].update(schema.get("channels", {}))
        merged["operations"].update(schema.get("operations", {}))
        for part in ("messages", "schemas"):
            merged["components"][part].update(schema.get("components", {}).get(part, {}))
    return json.loads(json.dumps(merged, default=str))
