"""CloudAudit bot service: the Slack bot."""
