"""Identity's account API (sign-up, verify, log-in, log-out) as the web app calls it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

IDENTITY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class IdentityAnswer:
    status: int
    body: dict[str, Any]

    @property
    def message(self) -> str:
        error = self.body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or "refused")
        return str(self.body.get("message") or "identity refused the request")


class IdentityApi:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http: aiohttp.ClientSession | None = None

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def post(
        self, path: str, body: dict[str, Any], token: str | None = None
    ) -> IdentityAnswer:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=IDENTITY_TIMEOUT_S)
            )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with self._http.post(
                f"{self.base_url}/api/v1/{path}", json=body, headers=headers
            ) as resp:
                data = await resp.json(content_type=None)
                return IdentityAnswer(resp.status, data if isinstance(data, dict) else {})
        except (aiohttp.ClientError, TimeoutError):
            return IdentityAnswer(
                503, {"message": "identity is not answering right now; try again in a minute"}
            )
