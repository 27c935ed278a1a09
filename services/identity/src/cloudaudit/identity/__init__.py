"""CloudAudit identity service: users, teams, roles, Slack links and the append-only audit log."""
