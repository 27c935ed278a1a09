"""Block Kit builders: pure functions from CloudAudit data to Slack blocks (snapshot-tested)."""
