"""One-time codes a person types (link a Slack and a web identity, claim a workspace's team).
Pure logic.

12 characters from a 32-letter alphabet without look-alikes (60 bits), shown in groups of 4.
With a few wrong tries allowed per hour, a code cannot be guessed in its lifetime. Only the
SHA-256 digest of the normalised code is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ0123456789"  # no I, L, O, U: nothing to misread
CODE_LENGTH = 12
GROUP = 4
MAX_WRONG_CODES_PER_HOUR = 5


class CodePurpose(StrEnum):
    LINK_SLACK = "link_slack"  # shown in Slack, entered on the web
    LINK_WEB = "link_web"  # shown on the web, entered in Slack
    CLAIM = "claim"  # printed for the operator, entered in Slack by the first owner


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def normalise(code: str) -> str:
    """What a person typed, as the code: case, spaces and dashes do not matter; O is 0,
    I and L are 1 (letters the alphabet leaves out)."""
    cleaned = "".join(c for c in code.upper() if c.isalnum())
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def code_digest(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def looks_like_a_code(code: str) -> bool:
    cleaned = normalise(code)
    return len(cleaned) == CODE_LENGTH and all(c in ALPHABET for c in cleaned)
