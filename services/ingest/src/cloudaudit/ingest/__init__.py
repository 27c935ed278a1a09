"""CloudAudit ingest service: AWS accounts, cost data, resources and spend queries."""
