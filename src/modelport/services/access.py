"""Access control: who is calling, may they, and are they within their limits.

One :class:`AccessControl` per server guards every front end (HTTP today, gRPC next): the
front end hands it the credential it found and the role and model the request needs, and
gets a :class:`~modelport.security.principal.Principal` back or a 401/403/429 error.

Speed: an API key's stored hash is scrypt, deliberately slow (tens of milliseconds), so it
is verified once per key and process and then remembered: by the SHA-256 of the key for
as long as the process runs, and by the key itself in a small hot map cleared whenever the
keys change (one dictionary lookup and a clock read per request, about 1 us less than
hashing; the process holds the key of every request it answers anyway, and nothing of it
is ever written). Revocation and expiry are still followed: the key records are re-read
whenever the registry's key revision changes (polled by the server), and every request
checks its key's record, so a revoked key stops working within one poll interval.

Hostile callers: every refusal says the same thing whatever the cause (unknown key, wrong
secret, revoked, expired), so nothing tells whether a key exists; an unknown key id is
checked against a dummy hash so it takes as long as a wrong secret; refusals are counted
per client address and, past a burst, answered 429 without any hashing, so a flood of bad
keys cannot keep the CPU busy; and a key that failed is remembered as failed for a while.
Refusals go to the audit trail in batches (one event per client, reason and key id with a
count), so a flood adds a bounded number of rows, not one per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from modelport.errors import PermissionDenied, RateLimited, Unauthenticated
from modelport.security.keys import Role, hash_key, key_id, verify_key
from modelport.security.limits import ConcurrencyLimits, Rate, TokenBuckets
from modelport.security.principal import ANONYMOUS, Principal

if TYPE_CHECKING:
    from modelport.registry import Registry
    from modelport.security.keys import ApiKey
    from modelport.security.tokens import TokenVerifier

log = logging.getLogger("modelport.security")
_K = TypeVar("_K")
_V = TypeVar("_V")

#: what a refused caller is told, whatever the reason (the audit trail has the reason)
REFUSED = "invalid credentials"
HOW_TO = (
    "send Authorization: Bearer KEY or X-API-Key: KEY; an admin creates keys with "
    "`modelport keys create --role predict`"
)
#: refused attempts per client address before further attempts get 429 unverified
FAILURE_RATE = Rate(per_second=2.0, burst=20.0)
#: how long a key that failed verification is refused without hashing it again
FAILED_SECONDS = 60.0
#: remembered keys (verified and failed) at most; beyond it the memory starts afresh
MAX_REMEMBERED = 100_000
# a stored hash of nothing: unknown key ids are verified against it, so they take as long
_DUMMY_HASH = hash_key("mpk_000000000000_" + "x" * 43)


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused request, as the audit trail records it (never with the secret)."""

    action: str  # auth.refused | auth.forbidden | auth.limited
    reason: str
    client: str | None
    principal: str | None = None
    target: str | None = None


def credential_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """``Authorization: Bearer X`` or ``X-API-Key: X``, as sent (ASGI headers are lowercase)."""
    for key, value in headers:
        if key == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip().decode("latin-1")
            return ""  # some other scheme (Basic...): present but not ours, so refused
        if key == b"x-api-key":
            return value.strip().decode("latin-1")
    return None


class AccessControl:
    """The server's guard: authentication, authorisation, rate and concurrency limits."""

    def __init__(
        self,
        registry: Registry | None,
        *,
        enabled: bool = True,
        tokens: TokenVerifier | None = None,
        rate: Rate | None = None,
        max_concurrency: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.enabled = enabled
        self.tokens = tokens
        self.clock = clock
        self.rates = TokenBuckets(rate, clock=clock) if rate is not None else None
        self.concurrency = ConcurrencyLimits(max_concurrency) if max_concurrency > 0 else None
        self._failures = TokenBuckets(FAILURE_RATE, clock=clock)
        self._blocked: dict[str, float] = {}  # client address -> no verifying until
        self._records: dict[str, Principal] = {}  # key id -> what the key may do, if active
        self._verified: dict[bytes, str] = {}  # sha256 of a verified key -> its id
        self._failed: dict[bytes, float] = {}  # sha256 of a refused key -> refused until
        self._tokens: dict[bytes, Principal] = {}  # sha256 of a verified JWT -> principal
        #: credential -> (principal, the records it was found in), until the keys change
        self._hot: dict[str, tuple[Principal, dict[str, Principal]]] = {}
        self._revision: object = None
        self._pending: dict[bytes, asyncio.Future[tuple[Principal | None, str, str | None]]] = {}
        self._refusals: Counter[Refusal] = Counter()
        #: counts for /metrics: refused by reason, limited by kind
        self.refused: Counter[str] = Counter()
        self.limited: Counter[str] = Counter()

    # -- keys ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the key records if any key was created or revoked since the last look."""
        if self.registry is None or not self.enabled:
            return
        revision = self.registry.keys.revision()
        if revision == self._revision:
            return
        now = datetime.now(UTC)
        self._records = {k.id: _principal(k) for k in self.registry.keys.list() if k.active(now)}
        self._revision = revision
        self._hot = {}  # a new map, not clear(): the event loop may be reading the old one
        # a key refused before may have been created since (ids are random, so rarely)
        self._failed.clear()

    def has_keys(self) -> bool:
        """Whether any active key exists (as of the last refresh)."""
        return bool(self._records)

    def remembered(self, credential: str | None) -> Principal | None:
        """The principal of a credential verified before and still valid, else None.

        The hot path: no coroutine, no hashing beyond one SHA-256; None sends the caller to
        :meth:`authenticate`, which decides (and says why) for everything else.
        """
        if not self.enabled:
            return ANONYMOUS
        if credential is None:
            return None
        records = self._records  # one generation of the key records throughout
        hot = self._hot.get(credential)
        if hot is not None and hot[1] is records:
            principal = hot[0]
        else:
            digest = hashlib.sha256(credential.encode("utf-8", "surrogateescape")).digest()
            kid = self._verified.get(digest)
            found = records.get(kid) if kid is not None else self._tokens.get(digest)
            if found is None:
                return None
            # tagged with the records it came from: a refresh in the poll's thread between
            # the lookup and this line must not keep a revoked key alive
            self._remember(self._hot, credential, (found, records))
            principal = found
        if principal.expired(self.clock()):
            return None
        return principal

    async def authenticate(self, credential: str | None, client: str | None) -> Principal:
        """The principal of ``credential``, or :class:`Unauthenticated` (401)."""
        if not self.enabled:
            return ANONYMOUS
        if credential is None:
            self._refuse("missing", client)
            raise Unauthenticated("credentials required", hint=HOW_TO)
        digest = hashlib.sha256(credential.encode("utf-8", "surrogateescape")).digest()
        now = self.clock()
        kid = self._verified.get(digest)
        if kid is not None:
            principal = self._records.get(kid)
            if principal is not None and not principal.expired(now):
                return principal
            self._verified.pop(digest, None)
            self._refuse("revoked_or_expired", client, kid)
            raise Unauthenticated(REFUSED, hint=HOW_TO)
        token = self._tokens.get(digest)
        if token is not None:
            if not token.expired(now):
                return token
            del self._tokens[digest]
        if self._failed.get(digest, 0.0) > now:
            self._refuse("known_bad", client)
            raise Unauthenticated(REFUSED, hint=HOW_TO)
        # the slow path: throttled per client address before anything is hashed
        address = client or "-"
        blocked = self._blocked.get(address, 0.0)
        if blocked > now:
            self.limited["failed_auth"] += 1
            raise RateLimited(
                "too many refused credentials from this address",
                retry_after=blocked - now,
                hint="check the key; attempts are accepted again after Retry-After seconds",
            )
        # one verification per credential at a time: 64 connections opening with the same
        # new key wait for one hash, not 64
        pending = self._pending.get(digest)
        if pending is None:
            pending = asyncio.ensure_future(self._verify(credential, digest, now))
            self._pending[digest] = pending
            pending.add_done_callback(lambda _: self._pending.pop(digest, None))
        principal, reason, kid = await asyncio.shield(pending)
        if principal is None:
            # only failures that cost a hash are throttled: a malformed key costs nothing
            wait = self._failures.take(address) if reason == "bad_key" else 0.0
            if wait > 0:
                self._remember(self._blocked, address, now + wait)
            self._remember(self._failed, digest, now + FAILED_SECONDS)
            self._refuse(reason, client, kid)
            raise Unauthenticated(REFUSED, hint=HOW_TO)
        return principal

    async def _verify(
        self, credential: str, digest: bytes, now: float
    ) -> tuple[Principal | None, str, str | None]:
        if self.tokens is not None:
            from modelport.security.tokens import TokenRejected, looks_like_jwt

            if looks_like_jwt(credential):
                try:
                    identity = self.tokens.verify(credential)
                except TokenRejected as exc:
                    return None, f"token_{exc.reason}", None
                expires = None if identity.expires_at is None else identity.expires_at.timestamp()
                principal = Principal(
                    f"token:{identity.subject}",
                    "token",
                    frozenset(identity.roles),
                    frozenset(identity.models),
                    expires,
                )
                self._remember(self._tokens, digest, principal)
                return principal, "", None
        kid = key_id(credential)
        if kid is None:
            return None, "malformed", None
        ok = await asyncio.to_thread(self._check_hash, kid, credential)
        if not ok:
            return None, "bad_key", kid
        found = self._records.get(kid)
        if found is None:  # a key created after the last refresh
            self._revision = None
            await asyncio.to_thread(self.refresh)
            found = self._records.get(kid)
        if found is None or found.expired(now):
            return None, "revoked_or_expired", kid
        self._remember(self._verified, digest, kid)
        return found, "", kid

    def _check_hash(self, kid: str, credential: str) -> bool:
        found = self.registry.keys.lookup(kid) if self.registry is not None else None
        if found is None:
            verify_key(credential, _DUMMY_HASH)  # as long as a wrong secret takes
            return False
        record, stored = found
        return verify_key(credential, stored) and record.active(datetime.now(UTC))

    @staticmethod
    def _remember(memory: dict[_K, _V], key: _K, value: _V) -> None:
        if len(memory) >= MAX_REMEMBERED:
            memory.clear()  # bounded: the next requests verify again, once per key
        memory[key] = value

    # -- authorisation and limits ----------------------------------------------------------

    def authorize(
        self, principal: Principal, role: Role, model: str | None, client: str | None
    ) -> None:
        """:class:`PermissionDenied` (403) unless ``principal`` holds ``role`` for ``model``."""
        if principal.can(role) and principal.may_use(model):
            return
        self._refusals[Refusal("auth.forbidden", f"needs {role}", client, principal.id, model)] += 1
        self.refused["forbidden"] += 1
        if not principal.can(role):
            raise PermissionDenied(
                f"this credential does not hold the {role!r} role this route needs",
                hint=f"use a key created with --role {role}",
            )
        raise PermissionDenied(
            f"this credential is not scoped to {model!r}",
            hint="use a key created with --model for this model, or without --model",
        )

    def admit(self, principal: Principal, client: str | None) -> None:
        """Spend one request of the caller's rate; :class:`RateLimited` (429) when spent."""
        if self.rates is None:
            return
        who = principal.id if principal is not ANONYMOUS else f"client:{client}"
        wait = self.rates.take(who)
        if wait > 0:
            self.limited["rate"] += 1
            raise RateLimited(
                f"rate limit of {who} reached",
                retry_after=wait,
                hint="slow down, or ask an admin for a higher --rate-limit",
            )

    def enter(self, principal: Principal, client: str | None) -> str | None:
        """Take one of the caller's concurrent slots; None when there is no cap."""
        if self.concurrency is None:
            return None
        who = principal.id if principal is not ANONYMOUS else f"client:{client}"
        if not self.concurrency.try_acquire(who):
            self.limited["concurrency"] += 1
            raise RateLimited(
                f"{who} already has the most requests in flight allowed",
                retry_after=1.0,
                hint="wait for answers before sending more, or raise --max-concurrency",
            )
        return who

    def leave(self, slot: str | None) -> None:
        if slot is not None and self.concurrency is not None:
            self.concurrency.release(slot)

    # -- the audit trail -------------------------------------------------------------------

    def _refuse(self, reason: str, client: str | None, kid: str | None = None) -> None:
        self.refused[reason] += 1
        self._refusals[Refusal("auth.refused", reason, client, kid)] += 1

    def flush(self) -> int:
        """Write the refusals counted since the last flush to the audit trail; how many."""
        if not self._refusals or self.registry is None:
            return 0
        batch, self._refusals = self._refusals, Counter()
        for refusal, count in batch.items():
            self.registry.audit.append(
                refusal.action,
                target=refusal.target,
                detail={
                    "reason": refusal.reason,
                    "client": refusal.client,
                    "principal": refusal.principal,
                    "count": count,
                },
                actor=refusal.principal or "unauthenticated",
            )
        return len(batch)


def _principal(key: ApiKey) -> Principal:
    expires = None if key.expires_at is None else key.expires_at.timestamp()
    return Principal(key.id, "key", frozenset(key.roles), frozenset(key.models), expires)


__all__ = ["AccessControl", "Refusal", "credential_of"]
