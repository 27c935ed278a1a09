"""argon2id off the event loop: a small, bounded pool of threads that hashes and verifies.

One argon2id verification is ~50 ms of CPU by design. On identity's event loop, a flood of
log-ins queued every other request behind it (actor tokens for every button press of every
tenant). Here a log-in first waits for its `turn()` (at most `workers` at once, before it opens
a transaction, so waiting log-ins hold no database connection), then hashes in a thread
(argon2-cffi releases the GIL). At most `queue_limit` log-ins wait: beyond that one is refused
as busy at once, so a flood degrades log-in only, never the rest of identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from cloudaudit.identity.domain.errors import TooManyAttempts
from cloudaudit.identity.domain.passwords import hash_password, verify_password


def default_workers() -> int:
    """Every core but one: the event loop keeps a core of its own for everything else."""
    return max(1, (os.cpu_count() or 2) - 1)


class PasswordWorkers:
    def __init__(self, workers: int | None = None, queue_limit: int = 64) -> None:
        workers = workers or default_workers()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._turns = asyncio.Semaphore(workers)
        self._waiting = 0  # holding or waiting for a turn
        self._limit = workers + queue_limit

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Admission for one log-in or sign-up; refused at once when too many wait."""
        if self._waiting >= self._limit:
            raise TooManyAttempts("log-in is busy; try again in a few seconds")
        self._waiting += 1
        try:
            async with self._turns:
                yield
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, hash_password, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, verify_password, stored_hash, password
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
