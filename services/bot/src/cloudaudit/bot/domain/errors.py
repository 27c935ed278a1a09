"""Errors the bot shows to people: each one says what to do next."""

from __future__ import annotations


class BotError(Exception):
    """Base of errors that become a Slack message (never a stack trace)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CommandError(BotError):
    """The command text could not be understood; the message says how to write it, and
    `command` names the subcommand it was (or most likely meant), for its one line of usage."""

    def __init__(self, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command


class NotAllowed(BotError):
    """Identity refused the action; the message is identity's reason."""


class ServiceUnavailable(BotError):
    """Another CloudAudit service did not answer in time."""


class ServiceRefused(BotError):
    """Another service answered with an error (its code and message, meant for people)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
