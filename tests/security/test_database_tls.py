"""Connections to PostgreSQL can be verified end to end: `sslmode=verify-full` in DATABASE_URL
checks the server's certificate against the CA (`sslrootcert`) and its name against the host,
as the production manifests ask.

The pgserver wheel is built without OpenSSL, so this runs Debian's PostgreSQL server
(`.ci/run` installs it when missing), with `hostssl` only: a plaintext client is refused by the
server, a client that does not trust the CA or reaches it by another name refuses the server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from cloudaudit.common.db import DatabaseTlsError, make_engine
from cloudaudit.common.embedded import free_port, port_open
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

SERVER_USER = "postgres"  # Debian's package creates it; postgres refuses to run as root


def _debian_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def _run_as(user: str | None, args: list[str]) -> None:
    result = subprocess.run(
        args, user=user, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture(scope="module")
def tls_server():
    from cloudaudit.common.dev_ca import DevCA

    bin_dir = _debian_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's PostgreSQL server is missing: .ci/run installs postgresql")
        pytest.skip("Debian's PostgreSQL server is not installed (apt-get install postgresql)")
    # Not under pytest's 0700 tmp: the server's own user must reach its data directory.
    root = Path(tempfile.mkdtemp(prefix="cloudaudit-pg-tls-"))
    user = SERVER_USER if os.geteuid() == 0 else None
    ca = DevCA(root / "ca")
    ca.ensure()
    server = ca.issue("db", ["db.cloudaudit.test", "localhost", "127.0.0.1"])
    other = DevCA(root / "other-ca")
    other.ensure()
    data = root / "data"
    data.mkdir()
    os.chmod(root, 0o755)
    for name in ("server.crt", "server.key"):
        source = server.cert_file if name.endswith("crt") else server.key_file
        shutil.copy(source, data.parent / name)
    if user:
        entry = pwd.getpwnam(user)
        for path in (data, root / "server.crt", root / "server.key"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(root / "server.key", 0o600)
    _run_as(user, [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"])
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhostssl all all 127.0.0.0/8 trust\nhostnossl all all 0.0.0.0/0 reject\n"
    )
    port = free_port()
    options = (
        f"-h 127.0.0.1,127.0.0.2 -p {port} -k {data} -c ssl=on -c ssl_cert_file={root / 'server.crt'} "
        f"-c ssl_key_file={root / 'server.key'}"
    )
    log = root / "postgres.log"
    if user:
        entry = pwd.getpwnam(user)
        log.touch()
        os.chown(log, entry.pw_uid, entry.pw_gid)
    _run_as(
        user,
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"],
    )
    try:
        assert port_open(port)
        yield port, ca.ca_file, other.ca_file
    finally:
        _run_as(user, [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(root, ignore_errors=True)


async def _who(url: str) -> str:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            return str(
                (
                    await conn.execute(
                        text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    )
                ).scalar()
            )
    finally:
        await engine.dispose()


@pytest.mark.asyncio(loop_scope="session")
async def test_verify_full_connects_over_tls_to_the_server_the_ca_vouches_for(tls_server):
    port, ca_file, _ = tls_server
    url = (
        f"postgresql://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca_file}"
    )
    assert await _who(url) == "True"


@pytest.mark.asyncio(loop_scope="session")
async def test_a_plaintext_client_is_refused_by_the_server(tls_server):
    port, _, _ = tls_server
    with pytest.raises((DBAPIError, OSError)) as caught:
        await _who(f"postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable")
    assert "no encryption" in str(caught.value) or "reject" in str(caught.value)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_server_signed_by_another_ca_is_refused(tls_server):
    port, _, other_ca = tls_server
    url = f"postgresql://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={other_ca}"
    with pytest.raises((DBAPIError, OSError)) as caught:
        await _who(url)
    assert "certificate verify failed" in str(caught.value)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_server_reached_by_a_name_not_in_its_certificate_is_refused(tls_server):
    port, ca_file, _ = tls_server
    # 127.0.0.2 is this server too, but its certificate names 127.0.0.1, localhost and db...
    url = (
        f"postgresql://postgres@127.0.0.2:{port}/postgres?sslmode=verify-full&sslrootcert={ca_file}"
    )
    with pytest.raises((DBAPIError, OSError)) as caught:
        await _who(url)
    assert "127.0.0.2" in str(caught.value) or "mismatch" in str(caught.value).lower()
    # ... which verify-ca does not check (the certificate itself is the CA's)
    assert await _who(url.replace("verify-full", "verify-ca")) == "True"


def test_a_missing_root_certificate_names_the_option():
    with pytest.raises(DatabaseTlsError, match="sslrootcert"):
        make_engine("postgresql://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
