"""Every test session gets real NATS and PostgreSQL (see cloudaudit.common.testing)."""

pytest_plugins = ["cloudaudit.common.testing"]
