"""Data keys: the embedded key file is made once and private, CLOUDAUDIT_DATA_KEY is parsed with
errors that name the fix (never the value), and a sealed value opens only with its key, in its
place."""

from __future__ import annotations

import base64
import os
import stat
import threading

import pytest
from cloudaudit.common import data_keys
from cloudaudit.common.data_keys import (
    DataCipher,
    DataKey,
    DataKeyError,
    LocalKeyProvider,
    UndecryptableValue,
    UnknownDataKey,
    add_key_to_file,
    key_file,
    load_or_create_key_file,
    parse_keys,
    sealed_key_id,
)
from cloudaudit.common.logging import redact

KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
CONTEXT = ("slack_bots", "bot_token", "1111.2222", "", "T0ALPHA")


def test_the_key_file_is_made_once_private_and_unloggable(tmp_path):
    keys = load_or_create_key_file(tmp_path)
    path = key_file(tmp_path)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key_file(tmp_path) == keys  # generated once
    assert len(keys) == 1 and len(keys[0].material) == 32
    text = path.read_text()
    assert text.startswith(f"{keys[0].key_id}:")
    encoded = text.strip().split(":", 1)[1]
    assert encoded not in redact(f"the key is {encoded}")
    assert encoded not in repr(keys[0])


def test_an_existing_key_file_is_never_replaced(tmp_path):
    path = key_file(tmp_path)
    path.parent.mkdir(parents=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, f"old:{KEY_A}\n".encode())
    os.close(fd)
    assert load_or_create_key_file(tmp_path) == [DataKey("old", b"A" * 32)]
    assert path.read_text() == f"old:{KEY_A}\n"


def test_first_starts_at_once_end_with_one_key_and_no_stray_files(tmp_path):
    starts = 8
    barrier = threading.Barrier(starts)
    found: list[list[DataKey]] = []

    def first_start() -> None:
        barrier.wait()
        found.append(load_or_create_key_file(tmp_path))

    threads = [threading.Thread(target=first_start) for _ in range(starts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == starts and all(keys == found[0] for keys in found)
    assert len(found[0]) == 1
    assert sorted(p.name for p in key_file(tmp_path).parent.iterdir()) == ["data.key"]


def test_a_key_file_others_may_read_is_refused_with_the_fix(tmp_path):
    load_or_create_key_file(tmp_path)
    path = key_file(tmp_path)
    os.chmod(path, 0o644)
    with pytest.raises(DataKeyError, match=r"mode 0644\): `chmod 600 .*data.key`"):
        load_or_create_key_file(tmp_path)


def test_rotation_appends_a_current_key_and_keeps_the_old_ones(tmp_path):
    first = load_or_create_key_file(tmp_path)[0]
    fresh = add_key_to_file(tmp_path)
    keys = load_or_create_key_file(tmp_path)
    assert keys == [first, fresh] and fresh.key_id != first.key_id
    assert stat.S_IMODE(key_file(tmp_path).stat().st_mode) == 0o600


def test_rotations_at_once_lose_no_key(tmp_path):
    load_or_create_key_file(tmp_path)
    added: list[DataKey] = []
    threads = [
        threading.Thread(target=lambda: added.append(add_key_to_file(tmp_path))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = load_or_create_key_file(tmp_path)
    assert len(kept) == 5 and set(added) <= set(kept)


def test_a_bare_key_is_the_default_key_and_the_last_entry_is_current():
    assert parse_keys(KEY_A) == [DataKey("default", b"A" * 32)]
    provider = LocalKeyProvider.from_value(f"k1:{KEY_A}, k2:{KEY_B}")
    assert provider.key_ids() == ["k1", "k2"] and provider.current().key_id == "k2"
    assert provider.find("k1") == DataKey("k1", b"A" * 32)
    urlsafe = base64.urlsafe_b64encode(b"\xfb" * 32).decode()
    assert parse_keys(f"u:{urlsafe}")[0].material == b"\xfb" * 32


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("k1:not*base64!", r"entry 1 \(key id 'k1'\) is not valid base64: generate one with "),
        (f"k1:{KEY_A},k2:{base64.b64encode(b'short').decode()}", r"entry 2 .* is 5 bytes, but"),
        (base64.b64encode(b"x" * 16).decode(), r"16 bytes, but a data key is 32 bytes"),
        (f"k1:{KEY_A},{KEY_B}", r"entry 2 has no key id"),
        (f"bad id:{KEY_A}", r"a key id is 1 to 40 letters"),
        (f"k1:{KEY_A},k1:{KEY_B}", r"entry 2 repeats key id 'k1'"),
        (" , ", r"holds no key: generate one with `openssl rand -base64 32`"),
    ],
)
def test_a_bad_data_key_is_refused_naming_the_entry_and_the_fix(value, says):
    with pytest.raises(DataKeyError, match=says) as refused:
        parse_keys(value)
    assert "CLOUDAUDIT_DATA_KEY" in refused.value.message
    for part in value.replace(",", ":").split(":"):
        if len(part) > 8:
            assert part not in refused.value.message  # the key itself is never repeated


def test_a_sealed_value_names_its_key_and_opens_only_in_its_place():
    cipher = DataCipher(LocalKeyProvider.from_value(f"k1:{KEY_A}"))
    sealed = cipher.seal("xoxb-alpha-token", CONTEXT)
    assert sealed.startswith("enc:v1:k1:") and sealed_key_id(sealed) == "k1"
    assert "xoxb" not in sealed and cipher.seal("xoxb-alpha-token", CONTEXT) != sealed
    assert cipher.open(sealed, CONTEXT) == "xoxb-alpha-token"
    assert cipher.is_current(sealed)
    elsewhere = ("slack_bots", "bot_token", "1111.2222", "", "T0BETA")
    with pytest.raises(UndecryptableValue, match="altered or copied from another row"):
        cipher.open(sealed, elsewhere)
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(UndecryptableValue):
        cipher.open(tampered, CONTEXT)
    with pytest.raises(UndecryptableValue, match="upgrade CloudAudit"):
        cipher.open("enc:v9:k1:abc", CONTEXT)


def test_an_unknown_key_id_names_the_key_and_how_to_bring_it_back():
    old = DataCipher(LocalKeyProvider.from_value(f"k1:{KEY_A}"))
    new = DataCipher(LocalKeyProvider.from_value(f"k2:{KEY_B}"))
    sealed = old.seal("xoxb-alpha-token", CONTEXT)
    with pytest.raises(UnknownDataKey) as unknown:
        new.open(sealed, CONTEXT)
    assert unknown.value.key_id == "k1"
    assert "sealed with data key 'k1', which CLOUDAUDIT_DATA_KEY does not hold" in str(
        unknown.value
    )
    assert "k1:<base64 key> in CLOUDAUDIT_DATA_KEY" in str(unknown.value)
    assert not new.is_current(sealed)
    both = DataCipher(LocalKeyProvider.from_value(f"k1:{KEY_A},k2:{KEY_B}"))
    assert both.open(sealed, CONTEXT) == "xoxb-alpha-token"
    assert sealed_key_id(both.seal("x", CONTEXT)) == "k2"


def test_a_running_process_follows_a_rotation_made_by_another(tmp_path):
    running = DataCipher(LocalKeyProvider.from_key_file(tmp_path))
    before = running.seal("xoxb-alpha-token", CONTEXT)
    add_key_to_file(tmp_path)
    rotated = DataCipher(LocalKeyProvider.from_key_file(tmp_path))
    after = rotated.seal("xoxb-alpha-token", CONTEXT)
    assert sealed_key_id(after) != sealed_key_id(before)
    assert running.open(after, CONTEXT) == "xoxb-alpha-token"  # re-read the key file
    assert running.is_current(after)
    assert rotated.open(before, CONTEXT) == "xoxb-alpha-token"  # the old key still opens


def test_the_provider_protocol_is_what_the_cipher_needs():
    provider: data_keys.DataKeyProvider = LocalKeyProvider.from_value(KEY_A)
    assert provider.source == "CLOUDAUDIT_DATA_KEY" and provider.key_ids() == ["default"]
