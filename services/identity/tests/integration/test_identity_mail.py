"""Identity's mail over real SMTP: a configured server, the embedded sink (shared or refused
on a taken port), `cloudaudit mail list|show`, the SMTP settings' rules, and the prune loop."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiohttp
import aiosmtplib
import asyncpg
import pytest
from cloudaudit.common.cli import _register_service_commands, app
from cloudaudit.common.clock import frozen_at
from cloudaudit.common.embedded import free_port, port_open
from cloudaudit.common.mail_sink import MailSink, MailSinkError, mail_dir, store_message
from cloudaudit.common.settings import SettingsError, load_settings
from cloudaudit.common.supervisor import Supervisor
from cloudaudit.common.testing import Mailbox, eventually
from cloudaudit.identity.settings import IdentitySettings
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

PASSWORD = "Tr0ub4dor&3-horse"
STARTED_AT = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)


def identity_settings(settings, state_dir, **extra) -> IdentitySettings:
    return IdentitySettings(  # type: ignore[call-arg]
        DATABASE_URL=settings.database_url.get_secret_value(),
        NATS_URL=settings.nats_url_value(),
        CLOUDAUDIT_BUS_PREFIX=settings.bus_prefix,
        CLOUDAUDIT_STATE_DIR=str(state_dir),
        **extra,
    )


async def sign_up(port: int, email: str) -> None:
    body = {"email": email, "password": PASSWORD}
    async with (
        aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http,
        http.post("/api/v1/signup", json=body) as resp,
    ):
        assert resp.status == 202, await resp.text()


async def test_mail_goes_to_the_configured_smtp_server(start_service, settings, tmp_path):
    server = MailSink(tmp_path / "mail-server" / "mail", port=0)  # a plain SMTP server
    await server.open()
    try:
        identity = await start_service(
            "identity",
            identity_settings(
                settings,
                tmp_path / "state",
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=server.bound_port,
                SMTP_TLS="none",
                SMTP_FROM="CloudAudit <no-reply@cloudaudit.test>",
            ),
        )
        await sign_up(identity.bound_api_port, "ana@acme.test")
        mail = await Mailbox(tmp_path / "mail-server").wait_for("ana@acme.test")
    finally:
        await server.stop()
    assert mail.sender == "CloudAudit <no-reply@cloudaudit.test>"
    assert mail.subject == "Confirm your email for CloudAudit" and Mailbox.token_in(mail)
    assert not mail_dir(tmp_path / "state").exists()  # no embedded sink beside a real server
    assert "mail" not in identity.health_checks


async def test_a_second_identity_shares_the_sink_of_its_install_and_no_other(tmp_path, caplog):
    first = MailSink(mail_dir(tmp_path / "a"), port=0)
    await first.open()
    other_install = MailSink(mail_dir(tmp_path / "b"), port=first.bound_port or 0)
    try:
        same_install = MailSink(mail_dir(tmp_path / "a"), port=first.bound_port or 0)
        assert await same_install.start() == first.bound_port
        # another install's sink holds the port: this one takes a free port and says so
        elsewhere = await other_install.start()
        assert elsewhere != first.bound_port
        assert "CLOUDAUDIT_EMBEDDED_SMTP_PORT" in caplog.records[-1].fix
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@x.test", "b@acme.test", "hi"
        message.set_content("hello")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=elsewhere, start_tls=False)
        assert [m.to for m in Mailbox(tmp_path / "b").messages()] == ["b@acme.test"]
        assert Mailbox(tmp_path / "a").messages() == []
    finally:
        await other_install.stop()
        await first.stop()


async def test_identity_uses_a_sink_run_as_a_process_of_its_own(start_service, settings, tmp_path):
    """How `cloudaudit up` can run the sink beside NATS and PostgreSQL: a supervised
    `python -m cloudaudit.common.mail_sink`, which identity then finds and shares."""
    port, state = free_port(), tmp_path / "state"
    supervisor = Supervisor(dict(os.environ), tmp_path / "logs")
    supervisor.start_module("mail-sink", "cloudaudit.common.mail_sink", str(state), str(port))
    try:

        async def listening() -> bool:
            return port_open(port)

        await eventually(listening)
        identity = await start_service(
            "identity",
            identity_settings(settings, state, CLOUDAUDIT_EMBEDDED_SMTP_PORT=port),
        )
        await sign_up(identity.bound_api_port, "ana@acme.test")
        mail = await Mailbox(state).wait_for("ana@acme.test")
    finally:
        supervisor.stop()
    assert Mailbox.token_in(mail)
    assert supervisor.exited() == [("mail-sink", 0)]  # stopped cleanly on SIGTERM
    assert "keeping mail in" in (tmp_path / "logs" / "mail-sink.log").read_text()


async def test_a_sink_that_cannot_keep_mail_names_the_fix(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    sink = MailSink(tmp_path / "file" / "mail", port=0)
    await sink.open()
    assert sink.ready.is_set() and sink.bound_port is None
    assert sink.error and "CLOUDAUDIT_STATE_DIR" in sink.error
    with pytest.raises(MailSinkError):
        await sink.start()


def test_smtp_settings_refuse_what_would_leak_or_cannot_work(monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "smtp.example.test")
    monkeypatch.setenv("SMTP_USERNAME", "cloudaudit")
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-secret-value")
    monkeypatch.setenv("SMTP_TLS", "none")
    with pytest.raises(SettingsError, match="SMTP_TLS=starttls") as refused:
        load_settings(IdentitySettings)
    assert "smtp-secret-value" not in str(refused.value)
    monkeypatch.delenv("SMTP_USERNAME")
    with pytest.raises(SettingsError, match="SMTP_USERNAME and SMTP_PASSWORD go together"):
        load_settings(IdentitySettings)
    monkeypatch.setenv("SMTP_USERNAME", "cloudaudit")
    monkeypatch.setenv("SMTP_TLS", "starttls")
    configured = load_settings(IdentitySettings)
    assert configured.smtp_port_or_default == 587 and not configured.embedded_mail


def test_mail_list_and_show_print_what_the_sink_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUDAUDIT_STATE_DIR", str(tmp_path))
    raw = (
        b"From: CloudAudit <cloudaudit@localhost>\r\nTo: ana@acme.test\r\n"
        b"Subject: Confirm \x1b[31myour email\r\n\r\nOpen http://x/verify?token=abc\x1b]0;evil\x07\r\n"
    )
    message_id = store_message(mail_dir(tmp_path), raw)
    if not any(getattr(g, "name", None) == "mail" for g in app.registered_groups):
        _register_service_commands()
    runner = CliRunner()

    listed = runner.invoke(app, ["mail", "list", "--format", "json"])
    shown = runner.invoke(app, ["mail", "show", message_id[:20]])
    missing = runner.invoke(app, ["mail", "show", "nope"])

    assert listed.exit_code == 0, listed.output
    assert [(m["message_id"], m["to"]) for m in json.loads(listed.output)] == [
        (message_id, "ana@acme.test")
    ]
    assert shown.exit_code == 0 and "verify?token=abc" in shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output
    assert missing.exit_code == 1 and "cloudaudit mail list" in missing.output
    assert (mail_dir(tmp_path).stat().st_mode & 0o777) == 0o700
    assert ((mail_dir(tmp_path) / f"{message_id}.eml").stat().st_mode & 0o777) == 0o600


async def test_the_prune_loop_deletes_expired_sessions_links_and_old_failures(
    start_service, settings, tmp_path, database_url
):
    identity = await start_service(
        "identity", identity_settings(settings, tmp_path, IDENTITY_PRUNE_INTERVAL_S=0.1)
    )
    api, mailbox = f"http://127.0.0.1:{identity.bound_api_port}/api/v1", Mailbox(tmp_path)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)

    async def count(table: str) -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval(f"SELECT count(*) FROM identity.{table}"))
        finally:
            await conn.close()

    with frozen_at(STARTED_AT):
        await sign_up(identity.bound_api_port, "ana@acme.test")
        await sign_up(identity.bound_api_port, "bo@acme.test")  # a link that is never used
        token = Mailbox.token_in(await mailbox.wait_for("ana@acme.test"))
        async with aiohttp.ClientSession() as http:
            await http.post(f"{api}/verify", json={"token": token})
            await http.post(f"{api}/login", json={"email": "ana@acme.test", "password": PASSWORD})
            await http.post(f"{api}/login", json={"email": "ana@acme.test", "password": "wrong-1"})
        assert (await count("sessions"), await count("email_tokens")) == (1, 2)
        assert await count("login_failures") == 1

    with frozen_at(STARTED_AT + timedelta(days=2)):

        async def all_pruned() -> bool:
            tables = ("sessions", "email_tokens", "login_failures")
            return [await count(t) for t in tables] == [0, 0, 0]

        await eventually(all_pruned)
    assert await count("users") == 2  # people stay; only what expired went
