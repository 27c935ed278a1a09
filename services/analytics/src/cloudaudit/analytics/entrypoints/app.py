"""Wire the analytics service: anomaly detection and savings recommendations."""

from __future__ import annotations

from cloudaudit.analytics.adapters.orm import outbox
from cloudaudit.analytics.entrypoints import anomalies_bus, recommendations_bus
from cloudaudit.common.runtime import ServiceRuntime


def build(runtime: ServiceRuntime) -> None:
    runtime.use_outbox(outbox)
    anomalies_bus.register(runtime)
    recommendations_bus.register(runtime)
