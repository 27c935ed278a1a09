"""The mail identity sends (verification and reset links, notices), as plain values. Pure.

No text a person typed (a name, a phone) goes into a mail: anyone can sign up with someone
else's address, so whatever a sign-up form holds must not reach that address's owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import quote


class TokenPurpose(StrEnum):
    """What a one-time emailed token proves when it is used."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose, not a password


@dataclass(frozen=True, kw_only=True)
class Mail:
    """One message to one address. `kind` names it in logs, which never carry the body."""

    to: str
    subject: str
    body: str
    kind: str


@dataclass(frozen=True, kw_only=True)
class Links:
    """Where the links in a mail point: the web app's pages, and identity's API meanwhile."""

    public_url: str
    api_url: str

    def verify(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/verify?token={quote(token)}"

    def reset(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/reset-password?token={quote(token)}"

    def api(self, path: str) -> str:
        return f"{self.api_url.rstrip('/')}/api/v1/{path}"


def _hours(ttl: timedelta) -> str:
    hours = int(ttl.total_seconds() // 3600)
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{int(ttl.total_seconds() // 60)} minutes"


NOT_YOU = "If you did not ask for this, ignore this mail: nothing changes until the link is used."
SIGNATURE = "\n-- \nCloudAudit\n"


def verification_mail(to: str, token: str, ttl: timedelta, links: Links) -> Mail:
    body = (
        "Confirm your email address to activate your CloudAudit account:\n\n"
        f"  {links.verify(token)}\n\n"
        f"The link works once, for {_hours(ttl)}. Or confirm it through the API:\n"
        f'  POST {links.api("verify")}  with  {{"token": "{token}"}}\n\n'
        "Expired? Ask for a new link: POST " + links.api("verify/resend") + " with your email.\n"
        f"{NOT_YOU}\n{SIGNATURE}"
    )
    return Mail(to=to, subject="Confirm your email for CloudAudit", body=body, kind="verify_email")


def reset_mail(to: str, token: str, ttl: timedelta, links: Links) -> Mail:
    body = (
        "Someone (we hope you) asked to reset the password of your CloudAudit account.\n"
        "Choose a new one here:\n\n"
        f"  {links.reset(token)}\n\n"
        f"The link works once, for {_hours(ttl)}. Or through the API:\n"
        f"  POST {links.api('password/reset/confirm')}  with  "
        f'{{"token": "{token}", "new_password": "..."}}\n\n'
        "Setting a new password logs you out everywhere else.\n"
        f"{NOT_YOU}\n{SIGNATURE}"
    )
    return Mail(to=to, subject="Reset your CloudAudit password", body=body, kind="reset_password")


def signup_notice(to: str, links: Links) -> Mail:
    """To the owner of an address that already has an account, instead of a second one."""
    body = (
        "Someone tried to sign up for CloudAudit with your email address, which already has "
        "an account.\n\n"
        "If it was you: log in, or reset your password if you forgot it:\n"
        f"  POST {links.api('password/reset')}  with your email.\n"
        "Not confirmed your address yet? Ask for a new confirmation link:\n"
        f"  POST {links.api('verify/resend')}  with your email.\n\n"
        "If it was not you, you need do nothing: your account is unchanged.\n"
        f"{SIGNATURE}"
    )
    return Mail(to=to, subject="Sign-up attempt with your CloudAudit address", body=body,
                kind="signup_notice")  # fmt: skip


def slack_known_notice(to: str) -> Mail:
    """To an address CloudAudit knows only from a Slack profile: no web account is made for it
    by sign-up, since a Slack profile's email is not proof of who signs up."""
    body = (
        "Someone tried to sign up for CloudAudit on the web with your email address.\n\n"
        "CloudAudit knows this address from Slack, so no web account was created: a web "
        "log-in is joined to a Slack identity only by a link proven from both sides, never "
        "by the email alone.\n\n"
        "If it was not you, you need do nothing: nothing changed.\n"
        f"{SIGNATURE}"
    )
    return Mail(to=to, subject="Sign-up attempt with your CloudAudit address", body=body,
                kind="signup_notice_slack")  # fmt: skip


def password_changed_notice(to: str, links: Links) -> Mail:
    body = (
        "The password of your CloudAudit account was just changed, and every other session "
        "was logged out.\n\n"
        "If that was not you, reset your password now:\n"
        f"  POST {links.api('password/reset')}  with your email.\n"
        f"{SIGNATURE}"
    )
    return Mail(to=to, subject="Your CloudAudit password was changed", body=body,
                kind="password_changed")  # fmt: skip
