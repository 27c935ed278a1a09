"""Files only their owner may read (passwords, keys, certificates' keys), in folders only their
owner may enter: the one way CloudAudit writes a secret to disk."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(folder: Path) -> Path:
    """`folder`, created if missing, mode 0700 (mkdir's mode is cut by the umask, and the
    folder may predate us, so it is set again)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def write_private(path: Path, data: str | bytes, exclusive: bool = False) -> None:
    """Write a 0600 file. Replaced in one step (a reader never sees half of it, and it never
    exists with wider permissions, even for a moment) unless `exclusive`, where an existing file
    is an error (FileExistsError: a password is never overwritten)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(raw)
    os.replace(tmp, path)
