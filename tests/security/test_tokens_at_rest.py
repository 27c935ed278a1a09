"""Slack credentials at rest: whoever reads the database (a dump, a backup, a stolen replica)
finds no token. Before, OAuth mode kept every workspace's xoxb bot token, refresh tokens and
user token in plaintext in `bot.slack_bots` / `bot.slack_installations`.

The real slack_sdk installation store (our subclass of it) on the session's PostgreSQL; the
dump is pg_dump's, of the whole test database; rotation is `cloudaudit keys rotate` itself.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from attack_support import Database
from cloudaudit.bot.adapters.installation_store import InstallationStore, TokenSealer
from cloudaudit.bot.adapters.unit_of_work import BotUnitOfWork
from cloudaudit.bot.service.keys import key_usage, rotate_tokens
from cloudaudit.common.cli import _register_service_commands, app
from cloudaudit.common.data_keys import (
    DataCipher,
    LocalKeyProvider,
    UndecryptableValue,
    UnknownDataKey,
    key_file,
)
from cloudaudit.common.db import make_engine
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from typer.testing import CliRunner

CLIENT_ID = "1111.2222"
KEY_1 = "k1:" + base64.b64encode(os.urandom(32)).decode()
KEY_2 = "k2:" + base64.b64encode(os.urandom(32)).decode()
CREDENTIALS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")


@dataclass(frozen=True)
class Workspace:
    team_id: str
    installation: Installation

    @property
    def secrets(self) -> list[str]:
        found = [getattr(self.installation, c) for c in CREDENTIALS]
        return [*found, self.installation.incoming_webhook_url]


def workspace(team_id: str) -> Workspace:
    """An installation as Slack's OAuth answer gives it, token rotation on, with a webhook."""
    unique = uuid.uuid4().hex
    return Workspace(
        team_id,
        Installation(
            app_id="A0CLOUDAUDIT",
            team_id=team_id,
            team_name=f"Team {team_id}",
            bot_token=f"xoxb-{unique[:12]}-{unique[12:]}",
            bot_id="B0BOT",
            bot_user_id="U0BOT",
            bot_scopes="commands,chat:write,users:read.email,channels:history",
            # refresh tokens are long: sealed, they outgrow slack_sdk's varchar(200)
            bot_refresh_token=f"xoxe-1-{unique}{uuid.uuid4().hex}{uuid.uuid4().hex}{unique}",
            bot_token_expires_in=43200,
            user_id=f"U{team_id}",
            user_token=f"xoxp-{unique}",
            user_scopes="search:read",
            user_refresh_token=f"xoxe-1-{uuid.uuid4().hex}{unique}",
            user_token_expires_in=43200,
            incoming_webhook_url=f"https://hooks.slack.com/services/{team_id}/B0HOOK/{unique}",
            incoming_webhook_channel="#costs",
            incoming_webhook_channel_id="C0COSTS",
        ),
    )


def sealer(keys: str) -> TokenSealer:
    return TokenSealer(DataCipher(LocalKeyProvider.from_value(keys)))


def store(engine: AsyncEngine, with_sealer: TokenSealer) -> InstallationStore:
    return InstallationStore(sealer=with_sealer, client_id=CLIENT_ID, engine=engine)


@pytest.fixture
async def engine(database_url: str):
    engine = make_engine(database_url, schema="bot", pool_size=2, max_overflow=0)
    yield engine
    await engine.dispose()


def uow(engine: AsyncEngine) -> BotUnitOfWork:
    return BotUnitOfWork(async_sessionmaker(engine, expire_on_commit=False))


async def pg_dump(database_url: str) -> str:
    """The whole database as pg_dump writes it (pg_dump from the pgserver wheel, the binary
    beside the postgres the embedded setup runs)."""
    from pgserver._commands import POSTGRES_BIN_PATH

    dump = await asyncio.create_subprocess_exec(
        str(POSTGRES_BIN_PATH / "pg_dump"),
        "--dbname",
        Database(database_url).dsn,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(dump.communicate(), 60)
    assert dump.returncode == 0, err.decode()[-500:]
    return out.decode()


async def assert_served(found: InstallationStore, space: Workspace) -> None:
    """The store gives back every credential in the clear (slack_sdk's own find paths)."""
    bot = await found.async_find_bot(enterprise_id=None, team_id=space.team_id)
    assert bot is not None
    assert (bot.bot_token, bot.bot_refresh_token) == (
        space.installation.bot_token,
        space.installation.bot_refresh_token,
    )
    for user_id in (None, space.installation.user_id):  # with a user: slack_sdk merges the bot
        installation = await found.async_find_installation(
            enterprise_id=None, team_id=space.team_id, user_id=user_id
        )
        assert installation is not None
        assert [getattr(installation, c) for c in CREDENTIALS] == [
            getattr(space.installation, c) for c in CREDENTIALS
        ]
        assert installation.incoming_webhook_url == space.installation.incoming_webhook_url


async def test_a_dump_of_the_whole_database_holds_no_slack_credential(engine, database_url):
    sealed_store = store(engine, sealer(KEY_1))
    alpha, beta = workspace("T0ALPHA"), workspace("T0BETA")
    for space in (alpha, beta):
        await sealed_store.async_save(space.installation)

    dump = await pg_dump(database_url)
    assert "T0ALPHA" in dump and "enc:v1:k1:" in dump  # the rows are there, sealed
    for secret in alpha.secrets + beta.secrets:
        assert secret not in dump
    await assert_served(sealed_store, alpha)
    await assert_served(sealed_store, beta)


async def test_a_ciphertext_copied_to_another_row_does_not_open(engine, db):
    sealed_store = store(engine, sealer(KEY_1))
    alpha, beta = workspace("T0ALPHA"), workspace("T0BETA")
    for space in (alpha, beta):
        await sealed_store.async_save(space.installation)

    for table in ("slack_bots", "slack_installations"):
        await db.execute(
            f"UPDATE bot.{table} SET bot_token = "
            f"(SELECT bot_token FROM bot.{table} WHERE team_id = 'T0ALPHA') "
            "WHERE team_id = 'T0BETA'"
        )
    with pytest.raises(UndecryptableValue, match="altered or copied from another row"):
        await sealed_store.async_find_bot(enterprise_id=None, team_id="T0BETA")
    with pytest.raises(UndecryptableValue, match=r"slack_installations/bot_token/.*/T0BETA"):
        await sealed_store.async_find_installation(enterprise_id=None, team_id="T0BETA")
    # the same row, another column: bound to its column too
    await db.execute(
        "UPDATE bot.slack_bots SET bot_token = bot_refresh_token WHERE team_id = 'T0ALPHA'"
    )
    with pytest.raises(UndecryptableValue):
        await sealed_store.async_find_bot(enterprise_id=None, team_id="T0ALPHA")


async def test_a_value_sealed_with_a_key_not_held_names_the_key_and_the_fix(engine):
    alpha = workspace("T0ALPHA")
    await store(engine, sealer(KEY_1)).async_save(alpha.installation)
    with pytest.raises(UnknownDataKey) as unknown:
        await store(engine, sealer(KEY_2)).async_find_bot(enterprise_id=None, team_id="T0ALPHA")
    message = str(unknown.value)
    assert "sealed with data key 'k1', which CLOUDAUDIT_DATA_KEY does not hold" in message
    assert "add that key back (k1:<base64 key> in CLOUDAUDIT_DATA_KEY" in message
    assert KEY_1.split(":")[1] not in message and alpha.installation.bot_token not in message


async def test_rotation_re_encrypts_every_row_and_old_key_rows_read_until_then(engine):
    alpha, beta = workspace("T0ALPHA"), workspace("T0BETA")
    await store(engine, sealer(KEY_1)).async_save(alpha.installation)
    both = sealer(f"{KEY_1},{KEY_2}")  # k2 added last: the current key
    await assert_served(store(engine, both), alpha)  # sealed with k1, still read
    await store(engine, both).async_save(beta.installation)  # sealed with k2
    assert await key_usage(uow(engine), ["k1", "k2"]) == {"k1": 7, "k2": 7}

    seen: list[tuple[str, int, int]] = []
    rotated = await rotate_tokens(uow(engine), both, lambda *step: seen.append(step))

    assert [(t.table, t.resealed, t.current) for t in rotated] == [
        ("slack_installations", 1, 1),
        ("slack_bots", 1, 1),
    ]
    assert seen[-1] == ("slack_bots", 2, 2)
    assert await key_usage(uow(engine), ["k1", "k2"]) == {"k1": 0, "k2": 14}
    only_k2 = store(engine, sealer(KEY_2))  # k1 may now be dropped
    await assert_served(only_k2, alpha)
    await assert_served(only_k2, beta)


async def test_plaintext_rows_of_an_earlier_version_are_read_and_sealed_by_rotation(
    engine, database_url
):
    earlier = AsyncSQLAlchemyInstallationStore(
        client_id=CLIENT_ID,
        engine=engine,
        bots_table_name="slack_bots",
        installations_table_name="slack_installations",
    )
    legacy = workspace("T0LEGACY")
    await earlier.async_save(legacy.installation)  # what OAuth mode wrote before this change
    now = store(engine, sealer(KEY_1))
    await assert_served(now, legacy)
    assert await key_usage(uow(engine), ["k1"]) == {"k1": 0, "plaintext": 7}

    rotated = await rotate_tokens(uow(engine), now.sealer, lambda *_: None)

    assert sum(t.resealed for t in rotated) == 2
    dump = await pg_dump(database_url)
    assert not [secret for secret in legacy.secrets if secret in dump]
    await assert_served(store(engine, sealer(KEY_1)), legacy)


async def test_a_failed_rotation_changes_nothing(engine, db):
    alpha, beta = workspace("T0ALPHA"), workspace("T0BETA")
    await store(engine, sealer(KEY_1)).async_save(alpha.installation)
    await store(engine, sealer(KEY_1)).async_save(beta.installation)
    await db.execute(  # one row damaged: the whole rotation must not half happen
        "UPDATE bot.slack_bots SET bot_token = bot_refresh_token WHERE team_id = 'T0BETA'"
    )
    before = await db.fetch("SELECT * FROM bot.slack_installations ORDER BY id")
    with pytest.raises(UndecryptableValue, match=r"bot.slack_bots row id \d+: .*T0BETA"):
        await rotate_tokens(uow(engine), sealer(f"{KEY_1},{KEY_2}"), lambda *_: None)
    assert await db.fetch("SELECT * FROM bot.slack_installations ORDER BY id") == before
    assert await key_usage(uow(engine), ["k1", "k2"]) == {"k1": 14, "k2": 0}


# -- `cloudaudit keys`, the embedded key file and CLOUDAUDIT_DATA_KEY --------------------------
runner = CliRunner()


@pytest.fixture
def cli(database_url, infrastructure, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("NATS_URL", infrastructure.nats_url)
    monkeypatch.setenv("CLOUDAUDIT_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("CLOUDAUDIT_DATA_KEY", raising=False)
    if not any(getattr(g, "name", None) == "keys" for g in app.registered_groups):
        _register_service_commands()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def save(database_url: str, provider: LocalKeyProvider, *spaces: Workspace) -> None:
    """Save installations as the running bot would (a sync test: its own event loop)."""

    async def go() -> None:
        engine = make_engine(database_url, schema="bot", pool_size=1, max_overflow=0)
        try:
            for space in spaces:
                await store(engine, TokenSealer(DataCipher(provider))).async_save(
                    space.installation
                )
        finally:
            await engine.dispose()

    asyncio.run(go())


def status(cli) -> dict:
    shown = cli("keys", "status", "--format", "json")
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.output)


def test_keys_rotate_in_the_embedded_setup_adds_a_key_and_re_encrypts(cli, database_url, tmp_path):
    alpha = workspace("T0ALPHA")
    running_bot = LocalKeyProvider.from_key_file(tmp_path)  # the bot's first start made it
    first = running_bot.current().key_id
    save(database_url, running_bot, alpha)
    assert status(cli)["keys"] == [{"key_id": first, "values": 7, "state": "current"}]

    rotated = cli("keys", "rotate")

    assert rotated.exit_code == 0, rotated.output
    keys = LocalKeyProvider.from_key_file(tmp_path)
    assert keys.key_ids()[0] == first and len(keys.key_ids()) == 2
    new = keys.current().key_id
    assert f"Data key {new!r}: new, added to {key_file(tmp_path)}" in rotated.output
    assert "slack_installations: 1 row re-encrypted, 0 already current" in rotated.output
    assert "Re-encrypted 2 rows, 0 already current, in one transaction" in rotated.output
    for key in key_file(tmp_path).read_text().split():
        assert key.split(":")[1] not in rotated.output
    assert not [s for s in alpha.secrets if s in rotated.output]
    assert stat.S_IMODE(key_file(tmp_path).stat().st_mode) == 0o600
    after = status(cli)
    assert after["current_key_id"] == new and after["source"] == str(key_file(tmp_path))
    assert {k["key_id"]: k["values"] for k in after["keys"]} == {first: 0, new: 7}

    async def the_running_bot_follows() -> None:  # it re-reads the key file for the new id
        engine = make_engine(database_url, schema="bot", pool_size=1, max_overflow=0)
        try:
            await assert_served(store(engine, TokenSealer(DataCipher(running_bot))), alpha)
        finally:
            await engine.dispose()

    asyncio.run(the_running_bot_follows())


def test_keys_rotate_with_cloudaudit_data_key_uses_its_last_key_and_makes_none(
    cli, database_url, tmp_path, monkeypatch
):
    save(database_url, LocalKeyProvider.from_value(KEY_1), workspace("T0ALPHA"))
    monkeypatch.setenv("CLOUDAUDIT_DATA_KEY", f"{KEY_1},{KEY_2}")

    rotated = cli("keys", "rotate")

    assert rotated.exit_code == 0, rotated.output
    assert "Data key 'k2': the current (last) key of CLOUDAUDIT_DATA_KEY" in rotated.output
    assert "Re-encrypted 2 rows, 0 already current" in rotated.output
    assert not Path(tmp_path, "keys").exists()  # no key file where the key is configured
    assert {k["key_id"]: k["values"] for k in status(cli)["keys"]} == {"k1": 0, "k2": 7}
    again = cli("keys", "rotate")
    assert "Re-encrypted 0 rows, 2 already current" in again.output


def test_key_mistakes_are_one_line_errors_naming_the_fix(cli, database_url, monkeypatch):
    save(database_url, LocalKeyProvider.from_value(KEY_1), workspace("T0ALPHA"))
    monkeypatch.setenv("CLOUDAUDIT_DATA_KEY", KEY_2)
    unknown = cli("keys", "rotate")
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output
    assert "sealed with data key 'k1'" in unknown.output and "Nothing was re-encrypted" in (
        unknown.output
    )
    not_held = {k["key_id"]: k["state"] for k in status(cli)["keys"]}["k1"]
    assert not_held.startswith("NOT HELD")

    monkeypatch.setenv("CLOUDAUDIT_DATA_KEY", "k3:" + base64.b64encode(b"short").decode())
    bad = cli("keys", "status")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "CLOUDAUDIT_DATA_KEY" in bad.output and "openssl rand -base64 32" in bad.output
