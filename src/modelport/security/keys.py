"""API keys: their shape, their roles, and the slow salted hash that is all the registry keeps.

A key reads ``mpk_<id>_<secret>``: ``id`` is 12 random lowercase hex characters and
``secret`` the 43 characters of ``secrets.token_urlsafe(32)``. The id travels inside the
key so that a server finds the one stored hash to check without scanning every key; the
secret is shown once, at creation, and never stored.

Roles, each a set of routes:

    predict    the prediction routes
    feedback   POST /api/feedback
    read       metadata, model lists, reports, /metrics
    admin      aliases, deployments, keys: everything (it covers the other three)

Pure functions on plain data: no database here, the registry stores what this module makes.

    >>> identifier, key = new_key()
    >>> stored = hash_key(key)
    >>> verify_key(key, stored), key_id(key) == identifier
    (True, True)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from modelport.errors import InvalidArgument

Role = Literal["predict", "feedback", "read", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
Status = Literal["active", "expired", "revoked"]

PREFIX = "mpk_"
_ID_LENGTH = 12
_SECRET_LENGTH = 43  # token_urlsafe(32): 32 bytes in unpadded base64url
KEY_LENGTH = len(PREFIX) + _ID_LENGTH + 1 + _SECRET_LENGTH
_ID = re.compile(r"[0-9a-f]{12}")
_KEY = re.compile(r"mpk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
#: a full key, or enough of one to be a leak (a secret cut short still narrows a search)
KEY_LIKE = re.compile(r"mpk_[0-9A-Za-z]{6,}_[A-Za-z0-9_-]{16,}")

# scrypt, not argon2: it is in the standard library (no extra C dependency to build and
# ship), it is memory-hard, and it is one of the hashes issue 11 allows. The parameters are
# written into every stored hash, so they can be raised later without breaking old keys.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_SCHEME = "scrypt"
#: the most memory a stored hash may ask of the verifier (its parameters are data)
_MAX_MEMORY = 256 * 1024 * 1024


def new_key() -> tuple[str, str]:
    """A fresh ``(id, key)``. Show the key to its owner once; store only :func:`hash_key`."""
    identifier = secrets.token_hex(_ID_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    return identifier, f"{PREFIX}{identifier}_{secret}"


def key_id(text: object) -> str | None:
    """The id inside something shaped exactly like a key, else None (never raises)."""
    if not isinstance(text, str) or len(text) != KEY_LENGTH:
        return None  # checked first: the pattern never runs over a megabyte of header
    match = _KEY.fullmatch(text)
    return match.group(1) if match else None


def is_key_id(text: object) -> bool:
    """Whether ``text`` is shaped like a key's id (12 lowercase hex characters)."""
    return isinstance(text, str) and len(text) == _ID_LENGTH and _ID.fullmatch(text) is not None


def hash_key(key: str) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` (base64) for a key made by :func:`new_key`."""
    if key_id(key) is None:
        raise InvalidArgument(
            "only an API key (mpk_<id>_<secret>) is hashed",
            hint="make one with modelport.security.keys.new_key()",
        )
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(key, salt, _N, _R, _P, _HASH_BYTES)
    return "$".join(
        [_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)],
    )


def verify_key(key: object, stored: object) -> bool:
    """Whether ``key`` is the key ``stored`` was made from. Any malformed input is False."""
    if key_id(key) is None or not isinstance(stored, str) or len(stored) > 512:
        return False
    assert isinstance(key, str)  # key_id accepted it
    parsed = _parse_stored(stored)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    try:
        actual = _scrypt(key, salt, n, r, p, len(expected))
    except (ValueError, MemoryError):  # parameters the local OpenSSL refuses
        return False
    return hmac.compare_digest(actual, expected)


def _parse_stored(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return None
    if not all(part.isascii() and part.isdigit() and len(part) <= 8 for part in parts[1:4]):
        return None
    n, r, p = (int(part) for part in parts[1:4])
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16:
        return None
    if _memory(n, r, p) > _MAX_MEMORY:
        return None
    try:
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except (binascii.Error, ValueError):
        return None
    if not 8 <= len(salt) <= 64 or not 16 <= len(expected) <= 64:
        return None
    return n, r, p, salt, expected


def _memory(n: int, r: int, p: int) -> int:
    # what OpenSSL allocates: the V array (128 r (N + 2)) and the B blocks (128 r p)
    return 128 * r * (n + 2) + 128 * r * p


def _scrypt(key: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        key.encode(),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=length,
        maxmem=_memory(n, r, p) + 1024 * 1024,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def role_covers(held: Role, needed: Role) -> bool:
    """Whether holding ``held`` allows what ``needed`` guards (admin allows everything)."""
    return held == needed or held == "admin"


def covers(roles: Iterable[Role], needed: Role) -> bool:
    return any(role_covers(role, needed) for role in roles)


def parse_roles(values: Iterable[str]) -> tuple[Role, ...]:
    """Validated roles, each once, in the order of :data:`ROLES`."""
    if isinstance(values, str):  # "admin" would otherwise be read as five one-letter roles
        raise InvalidArgument(
            f"roles are a list, not the string {values[:40]!r}", hint='write e.g. ["read"]'
        )
    chosen: set[str] = set()
    for value in values:
        if value not in ROLES:
            raise InvalidArgument(
                f"unknown role {str(value)[:40]!r}; expected one of: {', '.join(ROLES)}",
                hint="admin covers every other role",
            )
        chosen.add(value)
    if not chosen:
        raise InvalidArgument(
            "a key needs at least one role",
            hint=f"give --role with one of: {', '.join(ROLES)}",
        )
    return tuple(role for role in ROLES if role in chosen)


_UNITS = {
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DURATION = re.compile(r"([0-9]{1,6})\s*(min|h|d|w)")
_EXPIRY_HINT = "write a duration such as 90min, 12h, 30d or 1w, or an ISO date such as 2027-01-31"


def parse_expiry(text: str, now: datetime) -> datetime:
    """When a key made at ``now`` expires: ``text`` is ``30d``, ``12h``, ``90min``, ``1w`` or
    an ISO date/time (UTC unless it says otherwise). It must lie after ``now``."""
    value = str(text).strip()
    if not value or len(value) > 64 or not value.isascii():
        raise InvalidArgument(f"expiry {str(text)[:64]!r} is not a time", hint=_EXPIRY_HINT)
    match = _DURATION.fullmatch(value)
    if match is not None:
        count = int(match.group(1))
        if count == 0:
            raise InvalidArgument(f"expiry {value!r} is no time at all", hint=_EXPIRY_HINT)
        try:
            return now + count * _UNITS[match.group(2)]
        except OverflowError:
            raise InvalidArgument(f"expiry {value!r} is too far away", hint=_EXPIRY_HINT) from None
    if value.startswith("-"):
        raise InvalidArgument(f"expiry {value!r} is negative", hint=_EXPIRY_HINT)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"expiry {value!r} is not a time", hint=_EXPIRY_HINT) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise InvalidArgument(
            f"expiry {value!r} is not in the future (it is now {now.isoformat()})",
            hint=_EXPIRY_HINT,
        )
    return when


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key without its secret or hash: what it may do, on which models, until when."""

    id: str
    roles: tuple[Role, ...]
    #: model and deployment names the key may call; empty means every one
    models: tuple[str, ...]
    description: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> Status:
        if self.revoked_at is not None:
            return "revoked"  # before expired: revoking was a decision, expiry only time
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    def active(self, now: datetime) -> bool:
        return self.status(now) == "active"

    def has_role(self, needed: Role) -> bool:
        return covers(self.roles, needed)

    def allows_model(self, name: str) -> bool:
        return not self.models or name in self.models

    def summary(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON-safe, and never the hash or the secret (the registry does not have the latter)."""
        return {
            "id": self.id,
            "roles": list(self.roles),
            "models": list(self.models),
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "status": self.status(now or datetime.now(UTC)),
        }
