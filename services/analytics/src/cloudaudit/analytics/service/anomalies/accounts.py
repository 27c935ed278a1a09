"""An account that left its team: when the team deleted its data, analytics forgets it too."""

from __future__ import annotations

import logging

from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.common.events.account import AccountDisconnected

log = logging.getLogger(__name__)


async def account_disconnected(event: AccountDisconnected, uow: AnomalyUnitOfWork) -> int:
    """Delete what analytics learnt and found for the account (series, detector state,
    anomalies, planned spend, recommendations) if its data was deleted; a kept account keeps
    its history. Idempotent: a redelivered event finds nothing left. Returns the rows deleted."""
    if not event.data_deleted:
        return 0
    async with uow:
        counts = await uow.repo.forget_account(event.team_id, event.account_id)
        await uow.commit()
    total = sum(counts.values())
    log.info(
        "account forgotten",
        extra={"team_id": str(event.team_id), "account_id": str(event.account_id), "rows": total},
    )
    return total
