"""The other CloudAudit services as the web app sees them: typed request/reply over the bus."""

from __future__ import annotations

from typing import TypeVar

from faststream.nats import NatsBroker

from cloudaudit.common.bus import BusNames, BusUnavailable, rpc
from cloudaudit.common.events.base import Reply, Request

R = TypeVar("R", bound=Reply)
RPC_TIMEOUT_S = 10.0  # a year of spend for many accounts is the slowest question asked


class ServiceRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Platform:
    def __init__(self, broker: NatsBroker, names: BusNames) -> None:
        self.broker = broker
        self.names = names

    async def ask(self, subject: str, request: Request, reply_type: type[R]) -> R:
        service = subject.split(".", 1)[0]
        try:
            reply = await rpc(self.broker, self.names, subject, request, reply_type, RPC_TIMEOUT_S)
        except BusUnavailable:
            raise ServiceRefused(
                "unavailable",
                f"The {service} service is not answering right now; try again in a minute.",
            ) from None
        if not reply.ok:
            error = reply.error
            raise ServiceRefused(
                error.code if error else "error",
                error.message if error else f"{service} refused the request",
            )
        return reply
