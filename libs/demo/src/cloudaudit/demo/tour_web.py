"""The tour's web sign-up: a manager signs up on identity's API, the verification link arrives
through the embedded SMTP sink (real SMTP, kept in the stack's state directory, what
`cloudaudit mail list` shows), the account stays inactive until the link is used, then logs in.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
from cloudaudit.common.mail_sink import list_mail, mail_dir
from cloudaudit.demo.tour_session import Tour

MANAGER = "dana.manager@acme-demo.test"
PASSWORD = "demo-manager-passphrase-2026"  # noqa: S105 - the demo's own made-up person
MAIL_WAIT_S = 20.0


def _mails_to(tour: Tour, to: str) -> list[Any]:
    return [m for m in list_mail(mail_dir(tour.stack.state_dir)) if m.to == to]


async def _new_mail(tour: Tour, to: str, seen: int) -> Any | None:
    """The first mail to `to` after the `seen` it had, once it has arrived."""
    deadline = time.monotonic() + MAIL_WAIT_S
    while time.monotonic() < deadline:
        mails = _mails_to(tour, to)
        if len(mails) > seen:
            return mails[seen]
        await asyncio.sleep(0.2)
    return None


def _token(mail: Any) -> str | None:
    found = re.search(r"[?&]token=([A-Za-z0-9_-]{20,})", mail.body) if mail else None
    return found.group(1) if found else None


async def web_sign_up(tour: Tour) -> None:
    """First run: sign up, refused until verified, verify, log in. Later runs: the same sign-up
    gets the same answer (no "taken" to enumerate) and the owner a notice; log-in just works."""
    api = f"http://127.0.0.1:{tour.stack.ports['identity_api']}/api/v1"
    seen = len(_mails_to(tour, MANAGER))
    form = {"email": MANAGER, "password": PASSWORD, "first_name": "Dana"}
    credentials = {"email": MANAGER, "password": PASSWORD}
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        answer = await http.post("/signup", json=form)
        early = await http.post("/login", json=credentials)
        mail = await _new_mail(tour, MANAGER, seen)
        token = _token(mail)
        if seen == 0 and token:
            await http.post("/verify", json={"token": token})
        login = await http.post("/login", json=credentials)
    if seen == 0:
        ok = answer.status_code == 202 and early.status_code == 403 and login.status_code == 200
        detail = (
            f"{MANAGER} signed up, was refused until the link mailed through the local SMTP "
            "sink was used (`cloudaudit mail list`), then logged in"
        )
    else:
        ok = answer.status_code == 202 and mail is not None and token is None
        ok = ok and login.status_code == 200
        detail = (
            f"signing up again as {MANAGER} got the same answer as a new address, and the "
            "owner a notice instead of a link"
        )
    if not ok:
        detail = (
            f"sign-up {answer.status_code}, log-in before the link {early.status_code}, "
            f"mail {'arrived' if mail else 'missing'}, log-in after {login.status_code}"
        )
    tour.record("web sign-up", ok, detail)
