"""Bus handlers of analytics: recommendations."""

from __future__ import annotations

from cloudaudit.common.runtime import ServiceRuntime


def register(runtime: ServiceRuntime) -> None:
    """Subscribers and request/reply handlers are added by the recommendations capability."""
