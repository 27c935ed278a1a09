"""Recommendation handlers, one module per feature: refresh (with its inventory and texts),
decisions, verification, queries. Each handler is the only place its transaction commits."""

from cloudaudit.analytics.service.recommendations.closing import SOURCE
from cloudaudit.analytics.service.recommendations.decisions import decide
from cloudaudit.analytics.service.recommendations.inventory import (
    MAX_PAGES,
    cost_report,
    fetch_inventory,
)
from cloudaudit.analytics.service.recommendations.queries import list_recommendations, summary
from cloudaudit.analytics.service.recommendations.refresh import refresh, refresh_now
from cloudaudit.analytics.service.recommendations.verification import (
    verify_approved,
    watch_costs,
)

__all__ = [
    "MAX_PAGES",
    "SOURCE",
    "cost_report",
    "decide",
    "fetch_inventory",
    "list_recommendations",
    "refresh",
    "refresh_now",
    "summary",
    "verify_approved",
    "watch_costs",
]
