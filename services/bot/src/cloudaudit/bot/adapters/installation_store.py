"""Slack installations in the bot schema with every stored credential sealed (data_keys).

slack_sdk's SQLAlchemy store does the SQL; its save methods get the credentials sealed and its
find methods open them, each bound to its table, column and workspace, so a ciphertext copied
into another team's row does not open. Rows an earlier version wrote in plaintext are read as
they are until `cloudaudit keys rotate` (which uses `SlackTokenRows` here) seals them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import MetaData, Table, Text, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloudaudit.bot.adapters.orm import SCHEMA, SLACK_BOTS, SLACK_INSTALLATIONS
from cloudaudit.bot.settings import BotSettings
from cloudaudit.common.data_keys import (
    DataCipher,
    DataKeyError,
    DataKeyProvider,
    is_sealed,
    local_key_provider,
    sealed_key_id,
)
from cloudaudit.common.logging import register_secret

# Every credential slack_sdk stores: tokens, refresh tokens, and the incoming webhook URL
# (whoever holds it can post to the channel).
INSTALLATION_SECRETS = (
    "bot_token",
    "bot_refresh_token",
    "user_token",
    "user_refresh_token",
    "incoming_webhook_url",
)
BOT_SECRETS = ("bot_token", "bot_refresh_token")
SEALED_COLUMNS = {SLACK_INSTALLATIONS: INSTALLATION_SECRETS, SLACK_BOTS: BOT_SECRETS}
PLAINTEXT = "plaintext"  # how `keys status` names values an earlier version stored unsealed
UNREADABLE_FORMAT = "(newer format)"  # sealed by a later version of CloudAudit


def token_context(
    table: str,
    column: str,
    client_id: str,
    enterprise_id: str | None,
    team_id: str | None,
    user_id: str | None = None,
) -> tuple[str, ...]:
    """What a sealed credential is bound to: its schema, table and column, and its row's
    workspace (Slack app, enterprise, team and, in installations, the installing user)."""
    return (SCHEMA, table, column, client_id, enterprise_id or "", team_id or "", user_id or "")


@dataclass(frozen=True)
class TokenRow:
    """One stored row's credentials, with what they are bound to."""

    table: str
    row_id: int
    client_id: str
    enterprise_id: str | None
    team_id: str | None
    user_id: str | None
    values: Mapping[str, str | None]

    def context(self, column: str) -> tuple[str, ...]:
        return token_context(
            self.table, column, self.client_id, self.enterprise_id, self.team_id, self.user_id
        )


class TokenSealer:
    """Seals credentials for their place and opens them; every plaintext it sees becomes a
    registered secret (never logged). Plaintext an earlier version stored is read as it is."""

    def __init__(self, cipher: DataCipher) -> None:
        self.cipher = cipher

    @classmethod
    def for_settings(cls, settings: BotSettings) -> TokenSealer:
        """CLOUDAUDIT_DATA_KEY's keys, else the embedded key file (made at first use)."""
        configured = settings.reveal(settings.data_key)
        return cls(DataCipher(local_key_provider(configured, settings.state_dir)))

    @property
    def provider(self) -> DataKeyProvider:
        return self.cipher.provider

    def seal(self, value: str | None, context: tuple[str, ...]) -> str | None:
        if value is None:
            return None
        register_secret(value)
        return self.cipher.seal(value, context)

    def open(self, value: str | None, context: tuple[str, ...]) -> str | None:
        if value is None:
            return None
        plain = self.cipher.open(value, context) if is_sealed(value) else value
        register_secret(plain)
        return plain

    def reseal(self, row: TokenRow) -> dict[str, str]:
        """The row's values that are not sealed with the current key, sealed with it."""
        changed: dict[str, str] = {}
        for column, value in row.values.items():
            if value is None or (is_sealed(value) and self.cipher.is_current(value)):
                continue
            context = row.context(column)
            try:
                plain = self.open(value, context)
            except DataKeyError as exc:
                raise exc.reworded(
                    f"{SCHEMA}.{row.table} row id {row.row_id}: {exc.message}. Nothing was "
                    "re-encrypted: once that workspace has installed the app again, delete "
                    "this row and rotate again"
                ) from None
            assert plain is not None
            changed[column] = self.cipher.seal(plain, context)
        return changed

    @staticmethod
    def key_of(value: str) -> str:
        """The id of the key a stored value is sealed with, or `plaintext`."""
        if not is_sealed(value):
            return PLAINTEXT
        return sealed_key_id(value) or UNREADABLE_FORMAT


def _with_text_columns(table: Table, columns: tuple[str, ...]) -> Table:
    # Sealed values outgrow slack_sdk's String(200) (migration 0006 made them text).
    for column in columns:
        table.c[column].type = Text()
    return table


class _SealedInstallation(Installation):
    """An installation as slack_sdk's save writes it: its row's credentials sealed (the row
    comes from `to_dict()`), while `to_bot()`, which the save passes on to `async_save_bot`,
    gives the bot in the clear, to be sealed there for the bots table."""

    def __init__(self, plain: Installation, sealed: dict[str, str | None]) -> None:
        # a copy, not a new installation: no super().__init__ recomputing expiry times
        vars(self).update(vars(plain))
        vars(self).update(sealed)
        self._plain = plain

    def to_bot(self) -> Bot:
        return self._plain.to_bot()


class InstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy store on the bot schema, every credential sealed at rest."""

    def __init__(self, *, sealer: TokenSealer, client_id: str, engine: AsyncEngine) -> None:
        super().__init__(
            client_id=client_id,
            engine=engine,
            bots_table_name=SLACK_BOTS,
            installations_table_name=SLACK_INSTALLATIONS,
        )
        self.sealer = sealer

    @classmethod
    def build_installations_table(cls, metadata: MetaData, table_name: str) -> Table:
        table = super().build_installations_table(metadata, table_name)
        return _with_text_columns(table, INSTALLATION_SECRETS)

    @classmethod
    def build_bots_table(cls, metadata: MetaData, table_name: str) -> Table:
        return _with_text_columns(super().build_bots_table(metadata, table_name), BOT_SECRETS)

    def _installation_context(self, found: Installation, column: str) -> tuple[str, ...]:
        return token_context(
            self.installations.name,
            column,
            self.client_id,
            found.enterprise_id,
            found.team_id,
            found.user_id,
        )

    def _bot_context(self, bot: Bot, column: str) -> tuple[str, ...]:
        return token_context(self.bots.name, column, self.client_id, bot.enterprise_id, bot.team_id)

    async def async_save(self, installation: Installation) -> None:
        sealed = {
            column: self.sealer.seal(
                getattr(installation, column), self._installation_context(installation, column)
            )
            for column in INSTALLATION_SECRETS
        }
        await super().async_save(_SealedInstallation(installation, sealed))

    async def async_save_bot(self, bot: Bot) -> None:
        sealed = copy.copy(bot)
        for column in BOT_SECRETS:
            setattr(
                sealed,
                column,
                self.sealer.seal(getattr(bot, column), self._bot_context(bot, column)),
            )
        await super().async_save_bot(sealed)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        bot = await super().async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if bot is not None:
            for column in BOT_SECRETS:
                value = getattr(bot, column)
                setattr(bot, column, self.sealer.open(value, self._bot_context(bot, column)))
        return bot

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        # slack_sdk may copy the latest bot's credentials in (found through async_find_bot,
        # so already open): open() passes those through like a plaintext row.
        found = await super().async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        if found is not None:
            for column in INSTALLATION_SECRETS:
                value = getattr(found, column)
                context = self._installation_context(found, column)
                setattr(found, column, self.sealer.open(value, context))
        return found


def slack_tables() -> dict[str, Table]:
    """The store's tables, schema-qualified, for the rows rotation reads and writes."""
    metadata = MetaData(schema=SCHEMA)
    return {
        SLACK_INSTALLATIONS: InstallationStore.build_installations_table(
            metadata, SLACK_INSTALLATIONS
        ),
        SLACK_BOTS: InstallationStore.build_bots_table(metadata, SLACK_BOTS),
    }


class SlackTokenRows:
    """The stored credentials, row by row, in the unit of work's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.tables = slack_tables()

    async def rows(self, table: str, for_update: bool = False) -> list[TokenRow]:
        t = self.tables[table]
        c = t.c
        user = c.user_id if "user_id" in c else None
        query = select(
            c.id,
            c.client_id,
            c.enterprise_id,
            c.team_id,
            *([user] if user is not None else []),
            *(c[column] for column in SEALED_COLUMNS[table]),
        ).order_by(c.id)
        if for_update:
            query = query.with_for_update()
        result = await self.session.execute(query)
        return [
            TokenRow(
                table=table,
                row_id=row["id"],
                client_id=row["client_id"],
                enterprise_id=row["enterprise_id"],
                team_id=row["team_id"],
                user_id=row.get("user_id"),
                values={column: row[column] for column in SEALED_COLUMNS[table]},
            )
            for row in result.mappings()
        ]

    async def update(self, table: str, row_id: int, values: Mapping[str, str]) -> None:
        t = self.tables[table]
        await self.session.execute(update(t).where(t.c.id == row_id).values(**values))
