"""Block Kit views: pure functions from CloudAudit data to Slack blocks (snapshot-tested).

Views import nothing from entrypoints/, service/ or adapters/: handlers call views, views
never call back.
"""
