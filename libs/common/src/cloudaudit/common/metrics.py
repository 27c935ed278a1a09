"""Prometheus metrics shared by every service process (served on /metrics)."""

from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "cloudaudit_messages_total", "JetStream messages handled", ["subject", "outcome"]
)
HANDLER_SECONDS = Histogram("cloudaudit_handler_seconds", "Handler latency", ["subject"])
REDELIVERIES = Counter("cloudaudit_redeliveries_total", "Messages seen more than once", ["subject"])
DEAD_LETTERS = Counter("cloudaudit_dead_letters_total", "Messages dead-lettered", ["subject"])
AWS_CALLS = Counter(
    "cloudaudit_aws_calls_total",
    "AWS API calls made for customers",
    ["service", "operation", "outcome"],
)
AWS_BILLED_USD = Counter(
    "cloudaudit_aws_billed_usd_total",
    "What our AWS calls cost customers (Cost Explorer: $0.01/request)",
)
LLM_CALLS = Counter("cloudaudit_llm_calls_total", "LLM calls", ["outcome"])
LLM_TOKENS = Counter("cloudaudit_llm_tokens_total", "LLM tokens used", ["kind"])
SLACK_API_ERRORS = Counter(
    "cloudaudit_slack_api_errors_total", "Slack Web API errors", ["method", "error"]
)
