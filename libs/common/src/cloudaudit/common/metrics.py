"""Prometheus metrics shared by every service process (served on /metrics)."""

from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "cloudaudit_messages_total", "JetStream messages handled", ["subject", "outcome"]
)
HANDLER_SECONDS = Histogram("cloudaudit_handler_seconds", "Handler latency", ["subject"])
REDELIVERIES = Counter("cloudaudit_redeliveries_total", "Messages seen more than once", ["subject"])
DEAD_LETTERS = Counter("cloudaudit_dead_letters_total", "Messages dead-lettered", ["subject"])
