"""Identity's periodic clean-up: expired sessions, spent or expired links, old failed log-ins."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta

from cloudaudit.identity.adapters.rows import Pruned
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.service.deps import IdentityDeps
from cloudaudit.identity.service.email_proof import LINK_RATE_WINDOW

log = logging.getLogger(__name__)
# Failed log-ins stop counting after the lock-out window; a day of them stays for whoever
# looks into an attack.
FAILURES_KEPT = timedelta(days=1)


async def prune_expired(uow: IdentityUnitOfWork, deps: IdentityDeps) -> Pruned:
    """One round. Links are kept for the mail rate window after they were used or expired,
    so the hourly limit still counts them."""
    now = deps.now()
    async with uow:
        pruned = await uow.repo.prune(
            now=now,
            tokens_before=now - LINK_RATE_WINDOW,
            failures_before=now - max(deps.login_window, FAILURES_KEPT),
        )
        await uow.commit()
    if pruned.total:
        log.info("pruned expired sessions, links and failed log-ins", extra=asdict(pruned))
    return pruned
