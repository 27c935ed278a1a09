"""Prometheus metrics shared by every service process (served on /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "cloudaudit_messages_total", "JetStream messages handled", ["subject", "outcome"]
)
HANDLER_SECONDS = Histogram("cloudaudit_handler_seconds", "Handler latency", ["subject"])
REDELIVERIES = Counter("cloudaudit_redeliveries_total", "Messages seen more than once", ["subject"])
DEAD_LETTERS = Counter("cloudaudit_dead_letters_total", "Messages dead-lettered", ["subject"])
OUTBOX_LAG_SECONDS = Gauge(
    "cloudaudit_outbox_lag_seconds", "Age of the oldest event waiting in the outbox", ["service"]
)
OUTBOX_PARKED = Counter(
    "cloudaudit_outbox_parked_total", "Outbox rows parked after repeated failures", ["service"]
)
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
EVENT_LOOP_LAG_SECONDS = Histogram(
    "cloudaudit_event_loop_lag_seconds",
    "How late the service's event loop ran a 100 ms timer (everything it answers waits as long)",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SLACK_API_ERRORS = Counter(
    "cloudaudit_slack_api_errors_total", "Slack Web API errors", ["method", "error"]
)

# Cost Explorer bills each request to the customer (USD 0.01 per API request, AWS pricing 2026).
CE_REQUEST_USD = 0.01


def count_aws_calls(client: object) -> object:
    """Count every AWS call a boto3 client makes (by service, operation and outcome)."""

    def after_call(
        http_response: object = None, model: object = None, parsed: object = None, **_: object
    ) -> None:
        service = getattr(getattr(model, "service_model", None), "service_name", "unknown")
        operation = getattr(model, "name", "unknown")
        error = isinstance(parsed, dict) and "Error" in parsed
        AWS_CALLS.labels(service, operation, "error" if error else "ok").inc()
        if service == "ce" and not error:
            AWS_BILLED_USD.inc(CE_REQUEST_USD)

    client.meta.events.register("after-call.*", after_call)  # type: ignore[attr-defined]
    return client
