"""Slack: the Bolt app, its listeners and the Block Kit views."""
