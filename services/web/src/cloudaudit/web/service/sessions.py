"""Cookie sessions and CSRF tokens.

The session cookie holds identity's own session token (32 random bytes issued at log-in):
a new value at every log-in, so a cookie planted before log-in never becomes a session
(no fixation), and log-out ends it at identity. The CSRF token of a form is an HMAC of the
session (or, before log-in, of a random pre-session cookie) under the app's key, compared in
constant time: another site can make the browser send the cookie, never read the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_COOKIE = "ca_session"
PRE_SESSION_COOKIE = "ca_pre"
TEAM_COOKIE = "ca_team"
CSRF_FIELD = "csrf_token"
SESSION_MAX_AGE_S = 7 * 24 * 3600


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(key: str, binding: str) -> str:
    return hmac.new(key.encode(), b"csrf:" + binding.encode(), hashlib.sha256).hexdigest()


def csrf_valid(key: str, binding: str | None, token: str | None) -> bool:
    if not binding or not token:
        return False
    return hmac.compare_digest(csrf_token(key, binding), token)
