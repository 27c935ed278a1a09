"""Verified actors: identity signs who acts (team, user, role) for one service; that service verifies.

The trust model (docs/trust-model.md): identity is the only issuer. The edge that verified a
person (the bot after Slack's signature check, the web app after a session check) asks identity
for a token naming team, user, role, audience and expiry (at most 5 minutes), signed with
identity's Ed25519 key. The service that owns the state verifies signature, expiry and
audience, checks that the token's team owns the target, and authorizes by the role in the
token. Nothing a message body says about who acts is believed.

Keys: identity signs with the newest of its keys; verifiers accept every public key they are
given (a rotated-out key stays listed until the tokens it signed have expired). Keys come from
settings in production (`CLOUDAUDIT_ACTOR_SIGNING_KEYS` for identity only,
`CLOUDAUDIT_ACTOR_PUBLIC_KEYS` for everyone) or, embedded, from `<state dir>/actor-keys/`
(generated on identity's first start). Public keys are never taken from a bus reply: a forged
reply would be as good as a forged token.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from cloudaudit.common.clock import utcnow
from cloudaudit.common.errors import Forbidden, NotFound, Unauthenticated
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.base import ActorRequest
from cloudaudit.common.events.identity import Action, ActorSource, Audience, Role
from cloudaudit.common.logging import register_secret
from cloudaudit.common.permissions import denial_reason
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

ACTOR_TOKEN_MAX_TTL = timedelta(minutes=5)  # the trust model's ceiling, not a default to raise
CLOCK_SKEW = timedelta(seconds=30)
ALGORITHM = "Ed25519"
ISSUER = "cloudaudit-identity"
SYSTEM_SUBJECT = "system"  # a team's scheduled work (read-only), not a person
KEY_DIR = "actor-keys"
SIGNING_FILE = "signing-keys.json"  # private: identity only, mode 0600
PUBLIC_FILE = "public-keys.json"  # a JWKS every verifier reads
RELOAD_AFTER_S = 1.0  # an unknown key id re-reads the public keys at most this often

security_log = logging.getLogger("cloudaudit.security")


@dataclass(frozen=True)
class Actor:
    """A verified person (or the operator at the CLI) acting in one team."""

    team_id: UUID
    user_id: UUID | None  # None: the operator at the CLI, or the team's scheduled work
    role: Role
    source: ActorSource
    token_id: str | None = None

    @classmethod
    def operator(cls, team_id: UUID) -> Actor:
        """Operator CLI commands act with an owner's rights, audited with source `cli`."""
        return cls(team_id=team_id, user_id=None, role=Role.OWNER, source=ActorSource.CLI)

    def refusal(self, action: Action) -> str | None:
        """None when the role allows the action; else the sentence the person sees."""
        return denial_reason(action, self.role)

    def require(self, action: Action) -> None:
        reason = self.refusal(action)
        if reason is not None:
            raise Forbidden(reason)

    def audit_source(self, service: str) -> str:
        """What an audit entry names as its source: `cli` for the operator, else the service
        that made the change."""
        return ActorSource.CLI.value if self.source is ActorSource.CLI else service

    def owns(self, team_id: UUID | None) -> bool:
        return team_id is not None and team_id == self.team_id


# -- keys ---------------------------------------------------------------------------------------
def new_signing_key(now: datetime | None = None) -> dict[str, Any]:
    """A fresh Ed25519 key as a private JWK, its key id naming when it was made."""
    made = now or utcnow()
    kid = f"{made:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    key = OKPKey.generate_key("Ed25519", parameters={"kid": kid}, private=True)
    return dict(key.as_dict(private=True)) | {"created_at": made.isoformat()}


def public_jwks(private_keys: list[dict[str, Any]]) -> dict[str, Any]:
    public = []
    for jwk in private_keys:
        key = OKPKey.import_key({k: v for k, v in jwk.items() if k != "created_at"})
        public.append(dict(key.as_dict(private=False)))
    return {"keys": public}


def key_dir(state_dir: Path) -> Path:
    return state_dir / KEY_DIR


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _write_public(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_or_create_keys(state_dir: Path) -> list[dict[str, Any]]:
    """Identity's keys in the state directory; the first start generates one."""
    folder = key_dir(state_dir)
    signing = folder / SIGNING_FILE
    if not signing.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two first starts at once must not end with two different keys
            fd = os.open(signing, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps({"keys": [new_signing_key()]}))
    keys = list(json.loads(signing.read_text(encoding="utf-8"))["keys"])
    public = folder / PUBLIC_FILE
    wanted = json.dumps(public_jwks(keys), indent=1)
    if not public.exists() or public.read_text(encoding="utf-8") != wanted:
        _write_public(public, wanted)
    return keys


def rotate_keys(state_dir: Path, now: datetime | None = None) -> str:
    """Add a new signing key (signing starts with it at identity's next start or reload); keys
    retired longer ago than a token lives are dropped. Returns the new key id."""
    moment = now or utcnow()
    keys = load_or_create_keys(state_dir)
    fresh = new_signing_key(moment)
    newest_before = datetime.fromisoformat(keys[-1]["created_at"]) if keys else moment
    # every key but the newest was retired when its successor was made; the one that is being
    # retired now must stay listed until the tokens it signed have expired
    kept = [k for k in keys[:-1] if moment - newest_before <= ACTOR_TOKEN_MAX_TTL + CLOCK_SKEW]
    keys = [*kept, keys[-1], fresh] if keys else [fresh]
    folder = key_dir(state_dir)
    _write_private(folder / SIGNING_FILE, json.dumps({"keys": keys}))
    _write_public(folder / PUBLIC_FILE, json.dumps(public_jwks(keys), indent=1))
    return str(fresh["kid"])


# -- issuing (identity only) --------------------------------------------------------------------
class ActorTokenIssuer:
    """Signs actor tokens with the newest key. Only identity builds one."""

    def __init__(self, private_keys: list[dict[str, Any]]) -> None:
        if not private_keys:
            raise ValueError("no actor signing key: set CLOUDAUDIT_ACTOR_SIGNING_KEYS")
        newest = private_keys[-1]
        for jwk in private_keys:
            register_secret(str(jwk.get("d") or ""))  # never in a log line
        self._kid = str(newest["kid"])
        self._key = OKPKey.import_key({k: v for k, v in newest.items() if k != "created_at"})

    @classmethod
    def from_settings(cls, settings: Any) -> ActorTokenIssuer:
        configured = getattr(settings, "actor_signing_keys", None)
        if configured is not None:
            return cls(list(json.loads(configured.get_secret_value())["keys"]))
        return cls(load_or_create_keys(settings.state_dir))

    @property
    def key_id(self) -> str:
        return self._kid

    def issue(
        self,
        *,
        team_id: UUID,
        user_id: UUID | None,
        role: Role,
        audience: Audience,
        source: ActorSource,
        ttl: timedelta = ACTOR_TOKEN_MAX_TTL,
    ) -> tuple[str, datetime]:
        """(token, expires_at) for one person acting in one team towards one service."""
        now = utcnow()
        expires = now + min(ttl, ACTOR_TOKEN_MAX_TTL)
        claims = {
            "iss": ISSUER,
            "sub": str(user_id) if user_id else SYSTEM_SUBJECT,
            "team": str(team_id),
            "role": role.value,
            "src": source.value,
            "aud": audience.value,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(8),
        }
        header = {"alg": ALGORITHM, "kid": self._kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._key, algorithms=[ALGORITHM]), expires


# -- verifying (every service that owns state) --------------------------------------------------
class ActorVerifier:
    """Verifies actor tokens meant for one service, with public keys from settings or disk."""

    def __init__(self, audience: Audience, public_keys: Any) -> None:
        self.audience = audience
        self._source = public_keys  # a JWKS dict, or a Path to re-read on an unknown key id
        self._keys: KeySet | None = None
        self._loaded_at = 0.0

    @classmethod
    def for_service(cls, settings: Any, audience: Audience) -> ActorVerifier:
        configured = getattr(settings, "actor_public_keys", None)
        if configured:
            return cls(audience, json.loads(configured))
        return cls(audience, key_dir(settings.state_dir) / PUBLIC_FILE)

    def _keyset(self, reload: bool = False) -> KeySet:
        if self._keys is not None and not reload:
            return self._keys
        if isinstance(self._source, Path):
            try:
                jwks = json.loads(self._source.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise Unauthenticated(
                    "actor keys are not available yet (identity publishes them at its first "
                    f"start in {self._source.parent}); start identity, or set "
                    "CLOUDAUDIT_ACTOR_PUBLIC_KEYS"
                ) from None
        else:
            jwks = self._source
        self._keys = KeySet.import_key_set(jwks)
        self._loaded_at = time.monotonic()
        return self._keys

    def _decode(self, token: str) -> Any:
        try:
            return jwt.decode(token, self._keyset(), algorithms=[ALGORITHM])
        except JoseError as exc:
            if (
                getattr(exc, "error", "") == "invalid_key_id"
                and isinstance(self._source, Path)
                and time.monotonic() - self._loaded_at > RELOAD_AFTER_S
            ):  # identity may have rotated its key since we read the file
                return jwt.decode(token, self._keyset(reload=True), algorithms=[ALGORITHM])
            raise

    def verify(self, token: str | None) -> Actor:
        """The actor the token names, or Unauthenticated saying why it was refused."""
        if not token:
            raise Unauthenticated(_refused("no actor token"))
        try:
            claims = self._decode(token).claims
        except (JoseError, ValueError) as exc:
            security_log.warning(
                "actor token refused",
                extra={"audience": self.audience.value, "why": type(exc).__name__},
            )
            raise Unauthenticated(_refused("the actor token is not signed by identity")) from None
        return self._check(claims)

    def _check(self, claims: dict[str, Any]) -> Actor:
        now = utcnow().timestamp()
        why = None
        if claims.get("iss") != ISSUER:
            why = "the actor token was not issued by identity"
        elif claims.get("aud") != self.audience.value:
            why = f"the actor token is meant for {claims.get('aud')!s}, not {self.audience.value}"
        elif not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            why = "the actor token has expired"
        elif not isinstance(claims.get("iat"), int) or claims["iat"] > now + CLOCK_SKEW.seconds:
            why = "the actor token is issued in the future"
        elif claims["exp"] - claims["iat"] > ACTOR_TOKEN_MAX_TTL.total_seconds():
            why = "the actor token lives longer than 5 minutes"
        if why is not None:
            security_log.warning(
                "actor token refused",
                extra={"audience": self.audience.value, "why": why, "team_id": claims.get("team")},
            )
            raise Unauthenticated(_refused(why))
        try:
            return Actor(
                team_id=UUID(str(claims["team"])),
                user_id=None if claims["sub"] == SYSTEM_SUBJECT else UUID(str(claims["sub"])),
                role=Role(claims["role"]),
                source=ActorSource(claims.get("src", ActorSource.SLACK.value)),
                token_id=str(claims.get("jti")),
            )
        except (KeyError, ValueError):
            raise Unauthenticated(_refused("the actor token is incomplete")) from None


def _refused(why: str) -> str:
    return (
        f"refused: {why}. Act through Slack or the web app (they obtain a fresh token from "
        "identity for you); a program must not call this service for a person directly"
    )


# -- the handler contract: a command is a request plus the verified actor -----------------------
Q = TypeVar("Q", bound=ActorRequest)


@dataclass(frozen=True)
class Command(Generic[Q]):
    """What a handler acting for a person receives: the request and who verifiably sent it."""

    request: Q
    actor: Actor

    @classmethod
    def verified(cls, request: Q, verifier: ActorVerifier) -> Command[Q]:
        """The entrypoint's one step: the actor comes from the token, nothing else."""
        return cls(request=request, actor=verifier.verify(_token(request)))


def _token(request: ActorRequest) -> str | None:
    return request.actor_token.get_secret_value() if request.actor_token else None


class Emits(Protocol):
    async def emit(self, subject: str, event: Any) -> None: ...

    async def commit(self) -> None: ...


async def authorize(
    uow: Emits,
    actor: Actor,
    action: Action,
    *,
    source: str,
    entity_type: str = "action",
    entity_id: str | None = None,
) -> None:
    """Allow, or raise Forbidden; a refused attempt is audited once, in the team's own log, by
    the service that refused it (the audit event is committed through its outbox)."""
    reason = actor.refusal(action)
    if reason is None:
        return
    await uow.emit(
        AUDIT_RECORDED,
        AuditRecorded(
            team_id=actor.team_id,
            user_id=actor.user_id,
            action="authorization.refused",
            entity_type=entity_type,
            entity_id=entity_id or action.value,
            details={"action": action.value, "role": actor.role.value, "reason": reason},
            source=actor.audit_source(source),
        ),
    )
    await uow.commit()
    raise Forbidden(reason)


def require_owner_team(actor: Actor, owner_team_id: UUID | None, what: str, target: object) -> None:
    """The target must belong to the actor's team. Otherwise the answer is 'not found' (nothing
    about another team leaks) and the attempt goes to the security log, never to a team's
    audit log."""
    if actor.owns(owner_team_id):
        return
    security_log.warning(
        "cross-team attempt refused",
        extra={
            "team_id": str(actor.team_id),
            "user_id": str(actor.user_id),
            "what": what,
            "target": str(target),
        },
    )
    raise NotFound(f"no such {what} in your team; check the id (list them with /cloudaudit)")
