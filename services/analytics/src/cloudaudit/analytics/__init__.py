"""CloudAudit analytics service: anomaly detection and savings recommendations."""
