"""The Slack console: the bot driven from a terminal, with a local Slack Web API."""
