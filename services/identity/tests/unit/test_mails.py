"""The mail identity sends, as values: links, lifetimes, and nothing a sign-up form typed."""

from __future__ import annotations

from datetime import timedelta

from cloudaudit.identity.domain.mails import (
    Links,
    password_changed_notice,
    reset_mail,
    signup_notice,
    slack_known_notice,
    verification_mail,
)

LINKS = Links(public_url="https://app.cloudaudit.test/", api_url="http://127.0.0.1:8080")


def test_a_verification_mail_carries_its_link_and_lifetime():
    mail = verification_mail("ana@acme.test", "tok_EN-123", timedelta(hours=24), LINKS)
    assert mail.to == "ana@acme.test" and mail.kind == "verify_email"
    assert "https://app.cloudaudit.test/verify?token=tok_EN-123" in mail.body
    assert "for 24 hours" in mail.body and "http://127.0.0.1:8080/api/v1/verify" in mail.body


def test_a_reset_mail_says_how_long_it_works_and_that_other_sessions_end():
    mail = reset_mail("ana@acme.test", "tok", timedelta(minutes=30), LINKS)
    assert "reset-password?token=tok" in mail.body and "for 30 minutes" in mail.body
    assert "logs you out everywhere else" in mail.body


def test_notices_carry_no_link_that_acts():
    for mail in (
        signup_notice("ana@acme.test", LINKS),
        slack_known_notice("ana@acme.test"),
        password_changed_notice("ana@acme.test", LINKS),
    ):
        assert "token" not in mail.body
        assert mail.subject and mail.kind
