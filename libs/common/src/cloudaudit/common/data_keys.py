"""Data keys: AES-256-GCM for the secrets CloudAudit keeps at rest (Slack tokens), by key id.

A sealed value reads `enc:v1:<key id>:<base64 of nonce + ciphertext + tag>`. It names the key
that sealed it, so a rotation can add a key and re-encrypt while the old one still decrypts,
and its associated data (the header and a context such as table, column and workspace) binds
it to where it is stored: the same ciphertext copied into another row does not decrypt.

Keys come from a `DataKeyProvider`. The one provider here is `LocalKeyProvider`, holding the
keys in this process: from `CLOUDAUDIT_DATA_KEY` (`id:base64,id:base64`, newest last; a bare
base64 key has the id `default`), or, when that is unset, from `<state dir>/keys/data.key`,
generated once (directory 0700, file 0600, created exclusively). A KMS-backed provider (for
production, so no data key sits in the environment) implements the same protocol: see
`DataKeyProvider`. Key material is registered as a secret: no log line carries it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import fcntl
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, Self

from cloudaudit.common.clock import utcnow
from cloudaudit.common.logging import register_secret
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DATA_KEY_ENV = "CLOUDAUDIT_DATA_KEY"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per value (2**32 values per key stay safe)
TAG_BYTES = 16
FORMAT_VERSION = "v1"
SEALED_PREFIX = "enc:"
HEADER = f"{SEALED_PREFIX}{FORMAT_VERSION}:"
DEFAULT_KEY_ID = "default"  # the id of a bare key in CLOUDAUDIT_DATA_KEY
KEY_DIR = "keys"
KEY_FILE = "data.key"
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
RELOAD_AT_MOST_EVERY_S = 1.0
GENERATE = "generate one with `openssl rand -base64 32`"
ENV_FORMAT = f"{DATA_KEY_ENV}=<id>:<base64 key>[,<id>:<base64 key>...], newest (current) last"


class DataKeyError(Exception):
    """A data key is missing, malformed or unknown, or a sealed value does not open; the
    message says what to do. It never carries key material or a plaintext."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def reworded(self, message: str) -> Self:
        """The same error (same type, same fields) saying more: where it happened, say."""
        clone = copy.copy(self)
        clone.message, clone.args = message, (message,)
        return clone


class UnknownDataKey(DataKeyError):
    """A value was sealed with a key id this process does not hold."""

    def __init__(self, message: str, key_id: str = "") -> None:  # a default: copy.copy works
        super().__init__(message)
        self.key_id = key_id


class UndecryptableValue(DataKeyError):
    """The key is known but the value does not open: altered, truncated, or moved from the
    place (context) it was sealed for."""


@dataclass(frozen=True)
class DataKey:
    key_id: str
    material: bytes = field(repr=False)


class DataKeyProvider(Protocol):
    """Where data keys come from: the current one to seal with, any known one to open with.

    A KMS-backed provider (the production option) keeps only *wrapped* data keys where the
    local provider keeps key material: each key is a KMS data key (`GenerateDataKey` under a
    customer master key), stored as its ciphertext blob with its id (in the environment or a
    table). At start the provider unwraps each with `kms:Decrypt` (the process's IAM role is
    the only credential), holds the plaintext keys in memory, and answers `current` and
    `find` from them, so sealing stays local and a Slack request never waits for KMS.
    Rotation asks KMS for a new data key and appends its wrapped blob; revoking the role's
    `kms:Decrypt` right makes every stored token unreadable at once. Nothing else changes:
    `DataCipher` and the stores take any provider.
    """

    @property
    def source(self) -> str:
        """Where the keys come from, for messages (never the keys themselves)."""
        ...

    def current(self) -> DataKey:
        """The key new values are sealed with."""
        ...

    def find(self, key_id: str) -> DataKey | None:
        """The key with this id, or None when the provider does not hold it."""
        ...

    def key_ids(self) -> list[str]:
        """Every key id held, oldest first (the last one is current)."""
        ...


# -- parsing --------------------------------------------------------------------------------
def _decode_key(text: str, where: str, fix: str) -> bytes:
    try:
        material = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise DataKeyError(f"{where} is not valid base64: {fix}") from None
    if len(material) != KEY_BYTES:
        raise DataKeyError(
            f"{where} is {len(material)} bytes, but a data key is {KEY_BYTES} bytes "
            f"(AES-256): {fix}"
        )
    return material


def parse_keys(text: str, source: str = DATA_KEY_ENV, fix: str | None = None) -> list[DataKey]:
    """Keys from `id:base64` entries separated by commas or new lines, oldest first.

    A single entry without an id is the key `default`. Errors name the entry (by position and
    id, never by value) after `source` (empty: the caller names it) and say the fix; each
    key's text is registered as a secret."""
    fix = fix or f"{GENERATE} and set {ENV_FORMAT}"
    entries = [e.strip() for e in re.split(r"[,\n]", text) if e.strip()]
    if not entries:
        raise DataKeyError(f"{source or 'it'} holds no key: {fix}")
    keys: list[DataKey] = []
    for number, entry in enumerate(entries, 1):
        label = f"{source} entry {number}".strip()
        key = _parse_entry(entry, label, len(entries) == 1, fix)
        if any(k.key_id == key.key_id for k in keys):
            raise DataKeyError(f"{label} repeats key id {key.key_id!r}: give each key its own id")
        keys.append(key)
    return keys


def _parse_entry(entry: str, label: str, alone: bool, fix: str) -> DataKey:
    key_id, sep, encoded = entry.partition(":")
    if not sep:
        if not alone:
            raise DataKeyError(
                f"{label} has no key id; with several keys each needs one: {ENV_FORMAT}"
            )
        key_id, encoded = DEFAULT_KEY_ID, entry
    key_id, encoded = key_id.strip(), encoded.strip()
    register_secret(encoded)
    if not KEY_ID.fullmatch(key_id):
        raise DataKeyError(
            f"{label}: a key id is 1 to 40 letters, digits, '.', '_' or '-' (before the ':'): "
            f"{ENV_FORMAT}"
        )
    material = _decode_key(encoded, f"{label} (key id {key_id!r})", fix)
    register_secret(base64.b64encode(material).decode())
    return DataKey(key_id, material)


def format_keys(keys: Sequence[DataKey]) -> str:
    """The key file's text: one `id:base64` line per key, oldest first."""
    return "".join(f"{k.key_id}:{base64.b64encode(k.material).decode()}\n" for k in keys)


def new_key(existing: Sequence[str] = (), now: datetime | None = None) -> DataKey:
    """A fresh random key; its id says when it was made (`20261203-9f8e7d`)."""
    made = now or utcnow()
    while True:
        key_id = f"{made:%Y%m%d}-{secrets.token_hex(3)}"
        if key_id not in existing:
            material = secrets.token_bytes(KEY_BYTES)
            register_secret(base64.b64encode(material).decode())
            return DataKey(key_id, material)


# -- the embedded key file ------------------------------------------------------------------
def key_file(state_dir: Path) -> Path:
    return state_dir / KEY_DIR / KEY_FILE


def _key_dir(state_dir: Path) -> Path:
    folder = state_dir / KEY_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask, and the folder may predate us
    return folder


def _write_new(path: Path, text: str) -> None:
    """Create `path` (0600) with `text`, failing with FileExistsError if it exists. Written
    to a private name first (O_EXCL) and linked into place, so no reader ever sees it half
    written and two first starts end with one key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _file_fix(path: Path) -> str:
    return (
        f"restore {path} from your backup (values sealed with a lost key cannot be read: "
        "those Slack workspaces must install the app again)"
    )


def read_key_file(path: Path) -> list[DataKey]:
    """The keys in an existing key file; refused if others may read it."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise DataKeyError(
            f"{path} may be read by other users (mode {mode:04o}): `chmod 600 {path}`, "
            "and rotate (`cloudaudit keys rotate`) if someone else may have read it"
        )
    return parse_keys(path.read_text(encoding="utf-8"), str(path), _file_fix(path))


def load_or_create_key_file(state_dir: Path) -> list[DataKey]:
    """The embedded setup's keys; the first call generates one."""
    path = key_file(state_dir)
    if not path.exists():
        _key_dir(state_dir)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            _write_new(path, format_keys([new_key()]))
    return read_key_file(path)


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """One writer of the key file at a time (two rotations must not lose each other's key)."""
    lock = _key_dir(state_dir) / f".{KEY_FILE}.lock"
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def add_key_to_file(state_dir: Path, now: datetime | None = None) -> DataKey:
    """Rotation in the embedded setup: a new key appended to the key file, which makes it the
    current one; older keys stay, to open what they sealed. Returns the new key."""
    path = key_file(state_dir)
    with _locked(state_dir):
        if not path.exists():  # no key yet: the first one is the new one
            with contextlib.suppress(FileExistsError):
                _write_new(path, format_keys([new_key(now=now)]))
            return read_key_file(path)[-1]
        keys = read_key_file(path)
        fresh = new_key([k.key_id for k in keys], now)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(format_keys([*keys, fresh]))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return fresh


# -- the local provider ---------------------------------------------------------------------
class LocalKeyProvider:
    """Keys held in this process, from `CLOUDAUDIT_DATA_KEY` or the embedded key file.

    With a key file, a value naming a key this process does not hold re-reads the file (at
    most once a second), so a running bot follows `cloudaudit keys rotate` run elsewhere."""

    def __init__(self, keys: Sequence[DataKey], source: str, path: Path | None = None) -> None:
        if not keys:
            raise DataKeyError(f"{source} holds no key: {GENERATE} and set {ENV_FORMAT}")
        self._keys = list(keys)
        self._source = source
        self._path = path
        self._reread_at = float("-inf")  # when a miss last re-read the file

    @classmethod
    def from_value(cls, value: str, source: str = DATA_KEY_ENV) -> LocalKeyProvider:
        return cls(parse_keys(value, source), source)

    @classmethod
    def from_key_file(cls, state_dir: Path) -> LocalKeyProvider:
        path = key_file(state_dir)
        return cls(load_or_create_key_file(state_dir), str(path), path)

    @property
    def source(self) -> str:
        return self._source

    @property
    def path(self) -> Path | None:
        return self._path

    def current(self) -> DataKey:
        return self._keys[-1]

    def find(self, key_id: str) -> DataKey | None:
        found = self._lookup(key_id)
        path = self._path
        if found is None and path is not None and self._may_reread():
            self._keys = read_key_file(path)
            found = self._lookup(key_id)
        return found

    def _may_reread(self) -> bool:
        if time.monotonic() - self._reread_at < RELOAD_AT_MOST_EVERY_S:
            return False
        self._reread_at = time.monotonic()
        return True

    def _lookup(self, key_id: str) -> DataKey | None:
        return next((k for k in self._keys if k.key_id == key_id), None)

    def key_ids(self) -> list[str]:
        return [k.key_id for k in self._keys]


def local_key_provider(configured: str | None, state_dir: Path) -> LocalKeyProvider:
    """`CLOUDAUDIT_DATA_KEY`'s keys when set, else the key file in the state directory."""
    if configured:
        return LocalKeyProvider.from_value(configured)
    return LocalKeyProvider.from_key_file(state_dir)


# -- sealing --------------------------------------------------------------------------------
Context = Sequence[str]


def is_sealed(value: str | None) -> bool:
    """True for a value this module sealed (any format version), False for plaintext."""
    return value is not None and value.startswith(SEALED_PREFIX)


def sealed_key_id(value: str) -> str | None:
    """The id of the key that sealed a value (None for plaintext or another format)."""
    if not value.startswith(HEADER):
        return None
    key_id, sep, _ = value[len(HEADER) :].partition(":")
    return key_id if sep else None


def _associated_data(key_id: str, context: Context) -> bytes:
    return f"{HEADER}{key_id}:".encode() + json.dumps(list(context)).encode()


def _where(context: Context) -> str:
    return "/".join(part or "-" for part in context)


class DataCipher:
    """Seals and opens text values with the provider's keys, each bound to its context."""

    def __init__(self, provider: DataKeyProvider) -> None:
        self.provider = provider

    def seal(self, plaintext: str, context: Context) -> str:
        key = self.provider.current()
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(key.material).encrypt(
            nonce, plaintext.encode(), _associated_data(key.key_id, context)
        )
        return f"{HEADER}{key.key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def is_current(self, value: str) -> bool:
        """Sealed with the current key (rotation leaves it as it is)."""
        return sealed_key_id(value) == self.provider.current().key_id

    def open(self, value: str, context: Context) -> str:
        """The plaintext of a sealed value; a clear error when it cannot be had."""
        key_id = sealed_key_id(value)
        if key_id is None:
            raise UndecryptableValue(
                f"the stored value for {_where(context)} is not in a format this version "
                f"reads ({HEADER}<key id>:...): upgrade CloudAudit to the version that wrote it"
            )
        key = self.provider.find(key_id)
        if key is None:
            raise UnknownDataKey(self._unknown(key_id, context), key_id)
        try:
            raw = base64.b64decode(value[len(HEADER) + len(key_id) + 1 :], validate=True)
            if len(raw) < NONCE_BYTES + TAG_BYTES:
                raise ValueError("too short")
            plain = AESGCM(key.material).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(key_id, context)
            )
        except (InvalidTag, ValueError, binascii.Error):
            raise UndecryptableValue(
                f"the stored value for {_where(context)} does not decrypt with key {key_id!r}: "
                "it was altered or copied from another row. Store it again (for a Slack "
                "token: install the app in that workspace again)"
            ) from None
        return plain.decode()

    def _unknown(self, key_id: str, context: Context) -> str:
        held = ", ".join(repr(k) for k in self.provider.key_ids())
        return (
            f"the stored value for {_where(context)} was sealed with data key {key_id!r}, which "
            f"{self.provider.source} does not hold (it holds {held}): add that key back "
            f"({key_id}:<base64 key> in {DATA_KEY_ENV}, before the current one) or restore the "
            "key file it came from; a lost key cannot be recovered (the Slack workspace must "
            "install the app again)"
        )
