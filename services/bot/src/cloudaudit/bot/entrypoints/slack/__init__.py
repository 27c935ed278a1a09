"""Slack transport: the Bolt app and its listeners, which turn a Slack request into a command
and a reply into Slack blocks."""
