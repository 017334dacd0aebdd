"""Bearer tokens from the user's identity provider (Keycloak, Auth0, Entra ID, Okta...).

A token is a JWT the provider signed with a private key; we hold only public keys, from a
JWKS file or the provider's JWKS URL, so nothing here can mint a token. The choices:

* Asymmetric algorithms only. With HS256 allowed, a token "signed" with the *public* key
  as the HMAC secret verifies (key confusion), and ``alg: none`` needs no key at all.
  The policy refuses both; the token's ``alg`` must also fit the key it names (an RSA key
  verifies only RS*/PS*, and only the ``alg`` the JWK declares, if it declares one).
* The key is chosen by the token's ``kid`` among keys we already trust. Headers that point
  elsewhere (``jku``, ``x5u``, an embedded ``jwk``) are ignored: following them would let
  the token bring its own key.
* ``exp`` and ``sub`` are required, ``iss`` and ``aud`` checked when configured (without
  an audience, any token of the issuer is accepted, including ones minted for other apps:
  configure one), with a leeway for clocks that disagree by a few seconds.
* Every refusal is a :class:`TokenRejected`: the client reads only "invalid bearer token"
  (telling an attacker which check failed helps them), the audit trail reads ``reason``.
  Nothing else escapes on hostile input; the length is capped before any parsing.
* Roles the token names but modelport does not know are ignored: they grant nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlparse

import jwt

from modelport.errors import ConfigurationError, Unauthenticated
from modelport.security.keys import ROLES, Role

log = logging.getLogger("modelport.serving")

#: a real token is 1-4 KiB; anything this long is refused before it is parsed
MAX_TOKEN_CHARS = 16 * 1024
#: how long the provider's key set is used before it is fetched again
JWKS_CACHE_SECONDS = 300.0
#: after a failed fetch, no request tries again for this long (each try may block)
FETCH_RETRY_SECONDS = 30.0
ASYMMETRIC_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
DEFAULT_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "ES256",
    "ES384",
    "EdDSA",
)
# Which kind of key (JWK ``kty``) each algorithm family verifies with.
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
# What fetching the provider's keys raises when it is down or answers nonsense: PyJWT wraps
# network errors, not a body that is not JSON (ValueError) or a reset mid-read (OSError).
_FETCH_FAILURES = (jwt.PyJWKClientConnectionError, ValueError, OSError)
_PART = re.compile(r"[A-Za-z0-9_-]*")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

RejectReason = Literal[
    "malformed",
    "too_long",
    "algorithm_not_allowed",
    "unknown_key",
    "weak_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "missing_claim",
    "bad_claim",
    "no_models",
    "jwks_unavailable",
]
REJECT_REASONS: frozenset[str] = frozenset(get_args(RejectReason))


class TokenRejected(Unauthenticated):
    """A bearer token that does not verify. ``reason`` is for the audit log, not the client."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(
            "invalid bearer token",
            hint="send a current token from the configured identity provider "
            "as 'Authorization: Bearer <token>'",
        )
        self.reason: RejectReason = reason


@dataclass(frozen=True)
class TokenPolicy:
    """Which tokens to trust: whose keys, which issuer and audience, where the roles are.

    ``roles_claim`` and ``models_claim`` name a claim, or a dotted path into nested claims
    (Keycloak's ``realm_access.roles``); a claim whose own name has dots (Auth0's
    ``https://example.com/roles``) is found too. The value may be a list of strings or one
    space-separated string, like OAuth's ``scope``. With ``models_claim`` set, a token
    must name at least one model, and may use only those.
    """

    jwks_file: Path | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    roles_claim: str = "roles"
    models_claim: str | None = None
    leeway_seconds: float = 30.0
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS

    def __post_init__(self) -> None:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ConfigurationError(
                "a token policy needs exactly one source of keys",
                hint="set jwks_file (a JWKS JSON file) or jwks_url (the provider's JWKS URL)",
            )
        if isinstance(self.jwks_file, str):
            object.__setattr__(self, "jwks_file", Path(self.jwks_file))
        if self.jwks_url is not None:
            _check_url(self.jwks_url)
        for name in ("roles_claim", "models_claim"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and value.strip(".")):
                raise ConfigurationError(
                    f"{name} {value!r} names no claim", hint="e.g. roles or realm_access.roles"
                )
        leeway = self.leeway_seconds
        if not (isinstance(leeway, int | float) and math.isfinite(leeway) and leeway >= 0):
            raise ConfigurationError(
                f"leeway_seconds {leeway!r} is not a non-negative number", hint="e.g. 30"
            )
        object.__setattr__(self, "algorithms", tuple(self.algorithms))
        _check_algorithms(self.algorithms)


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """Who a verified token speaks for, and what it allows. ``models`` empty: every model."""

    subject: str
    roles: tuple[Role, ...]
    models: tuple[str, ...]
    expires_at: datetime | None
    issuer: str | None


class TokenVerifier:
    """Verifies bearer tokens against a :class:`TokenPolicy`'s keys.

    A JWKS file is read at construction (a ConfigurationError if it cannot be) and again on
    :meth:`reload`. A JWKS URL is fetched by PyJWT's client on first use and cached; a
    token naming an unknown ``kid`` refreshes it at most once per cooldown, so made-up
    kids cannot hammer the provider. When the provider cannot be reached, the last key set
    it sent stays in use (its outage should not log everyone out) and no request tries
    again for ``FETCH_RETRY_SECONDS``. A fetch blocks, so with a URL call :meth:`verify`
    off the event loop (``asyncio.to_thread``).

    Usage::

        verifier = TokenVerifier(TokenPolicy(jwks_file=Path("jwks.json"), issuer=ISSUER))
        identity = verifier.verify(token)  # TokenIdentity(subject="alice", roles=("read",), ...)
    """

    def __init__(self, policy: TokenPolicy, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._keys: jwt.PyJWKSet | None = None  # the file's, or the last the URL sent
        self._client: jwt.PyJWKClient | None = None
        self._retry_at = -math.inf  # no fetch before this, after one failed
        if policy.jwks_url is not None:
            self._client = jwt.PyJWKClient(policy.jwks_url, lifespan=JWKS_CACHE_SECONDS, timeout=10)
        else:
            self.reload()

    def reload(self) -> None:
        """Read the JWKS file again (after a key rotation); on failure the old keys stay."""
        if self._client is not None:
            return  # the URL's keys refresh themselves: on expiry and on unknown kids
        path = self.policy.jwks_file
        assert path is not None  # the policy has exactly one source
        try:
            self._keys = jwt.PyJWKSet.from_json(path.read_text())
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the JWKS file {path}: {exc.strerror or exc}",
                hint="point jwks_file at the identity provider's public keys (JSON)",
            ) from exc
        except (ValueError, AttributeError, jwt.PyJWTError) as exc:
            raise ConfigurationError(
                f"{path} is not a JWK set with usable public keys: {exc}",
                hint='a JWKS file is JSON: {"keys": [{"kty": "RSA", "kid": ..., ...}]}',
            ) from exc

    def verify(self, token: str) -> TokenIdentity:
        """The identity ``token`` proves, or :class:`TokenRejected` saying why not."""
        if not isinstance(token, str):
            raise TokenRejected("malformed")
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected("too_long")
        header = _header(token)
        if header is None:
            raise TokenRejected("malformed")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.policy.algorithms:
            raise TokenRejected("algorithm_not_allowed")
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected("malformed")
        key = self._key(kid)
        if not _fits(key, alg):
            raise TokenRejected("unknown_key")
        claims = self._claims(token, key, alg)
        return self._identity(claims)

    def _key(self, kid: str | None) -> jwt.PyJWK:
        keys = self._remote_keys() if self._client is not None else self._keys
        assert keys is not None  # a file's keys are read at construction
        if kid is None:
            # A set of one key need not name it; with more, a token must say which.
            if len(keys.keys) == 1:
                return keys.keys[0]
            raise TokenRejected("unknown_key")
        for key in keys:
            if key.key_id == kid:
                return key
        if self._client is not None and self._clock() >= self._retry_at:
            try:
                return self._client.get_signing_key(kid)  # refreshes, once per cooldown
            except _FETCH_FAILURES as exc:
                self._fetch_failed(exc)
                raise TokenRejected("jwks_unavailable") from exc
            except jwt.PyJWTError as exc:  # the refreshed set has no such key either
                raise TokenRejected("unknown_key") from exc
        raise TokenRejected("unknown_key")

    def _remote_keys(self) -> jwt.PyJWKSet:
        """The provider's key set: cached, and the last good one while the provider fails."""
        assert self._client is not None
        if self._clock() >= self._retry_at:
            try:
                self._keys = self._client.get_jwk_set()
            except (*_FETCH_FAILURES, jwt.PyJWTError) as exc:  # or it sent no usable keys
                self._fetch_failed(exc)
        if self._keys is None:
            raise TokenRejected("jwks_unavailable")
        return self._keys

    def _fetch_failed(self, exc: Exception) -> None:
        self._retry_at = self._clock() + FETCH_RETRY_SECONDS
        log.warning(
            "cannot fetch the identity provider's keys from %s (%s); %s",
            self.policy.jwks_url,
            exc,
            "using the last keys it sent" if self._keys is not None else "refusing tokens",
        )

    def _claims(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        policy = self.policy
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=policy.audience,
                issuer=policy.issuer,
                leeway=policy.leeway_seconds,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": policy.audience is not None,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenRejected("not_yet_valid") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenRejected("wrong_issuer") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRejected("wrong_audience") from exc
        except jwt.MissingRequiredClaimError as exc:
            if exc.claim == "iss":
                raise TokenRejected("wrong_issuer") from exc
            if exc.claim == "aud":
                raise TokenRejected("wrong_audience") from exc
            raise TokenRejected("missing_claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRejected("bad_signature") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise TokenRejected("algorithm_not_allowed") from exc
        except jwt.InvalidKeyError as exc:
            raise TokenRejected("weak_key") from exc
        except jwt.DecodeError as exc:
            raise TokenRejected("malformed") from exc
        except jwt.PyJWTError as exc:  # iat, sub or jti of the wrong type
            raise TokenRejected("bad_claim") from exc
        except (ValueError, TypeError, OverflowError) as exc:  # a claim PyJWT chokes on
            raise TokenRejected("bad_claim") from exc
        return claims

    def _identity(self, claims: dict[str, Any]) -> TokenIdentity:
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise TokenRejected("missing_claim")
        try:
            expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
        except (ValueError, TypeError, OverflowError, OSError) as exc:  # past year 9999
            raise TokenRejected("bad_claim") from exc
        names = _words(_claim(claims, self.policy.roles_claim))
        roles = tuple(r for r in ROLES if r in names)
        models: tuple[str, ...] = ()
        if self.policy.models_claim is not None:
            # Without this, a token the provider issued without the claim would reach
            # every model: a configured scope that is missing refuses instead.
            models = tuple(dict.fromkeys(_words(_claim(claims, self.policy.models_claim))))
            if not models:
                raise TokenRejected("no_models")
        issuer = claims.get("iss")
        return TokenIdentity(
            subject=subject,
            roles=roles,
            models=models,
            expires_at=expires_at,
            issuer=issuer if isinstance(issuer, str) else None,
        )


def looks_like_jwt(text: str) -> bool:
    """Whether ``text`` has a JWT's shape: three base64url parts, the first a JSON header
    with ``alg``. Cheap, and no verdict on the token: it tells tokens from API keys."""
    return isinstance(text, str) and len(text) <= MAX_TOKEN_CHARS and _header(text) is not None


def _header(token: str) -> dict[str, Any] | None:
    """The unverified JOSE header of a compact JWS, or None if ``token`` is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    if not all(_PART.fullmatch(part) for part in parts):
        return None
    try:
        header = json.loads(_b64decode(parts[0]))
    except (ValueError, binascii.Error, RecursionError):
        return None
    return header if isinstance(header, dict) and "alg" in header else None


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _fits(key: jwt.PyJWK, alg: str) -> bool:
    """Whether ``key`` may verify ``alg``: the right kind of key, for signatures."""
    # PyJWK fills in an algorithm when the JWK declares none; only the declared one binds.
    declared = key._jwk_data.get("alg")
    if declared is not None and declared != alg:
        return False
    return key.public_key_use in (None, "sig") and key.key_type == _KEY_TYPES.get(alg[:2])


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """``claims[name]``, or the value at the dotted path ``name``; None if absent."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _words(value: Any) -> tuple[str, ...]:
    """A list of strings, or a space-separated string, as a tuple; anything else is empty."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def _check_url(url: str) -> None:
    parsed = urlparse(url)
    local = parsed.scheme == "http" and parsed.hostname in _LOCAL_HOSTS
    if not (parsed.scheme == "https" or local) or not parsed.hostname:
        raise ConfigurationError(
            f"the JWKS URL {url!r} is not an https URL",
            hint="whoever can change the keys in transit can mint tokens: use the provider's "
            "https URL (plain http only for localhost)",
        )


def _check_algorithms(algorithms: tuple[str, ...]) -> None:
    if not algorithms:
        raise ConfigurationError(
            "a token policy allows no algorithm", hint=f"e.g. {', '.join(DEFAULT_ALGORITHMS)}"
        )
    for alg in algorithms:
        if not isinstance(alg, str) or alg.upper().startswith("HS") or alg.lower() == "none":
            raise ConfigurationError(
                f"the algorithm {alg!r} is not allowed for bearer tokens",
                hint="HS* would accept a token whose HMAC secret is the provider's public key "
                "(key confusion), and 'none' a token with no signature at all: allow only "
                f"asymmetric algorithms ({', '.join(ASYMMETRIC_ALGORITHMS)})",
            )
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError(
                f"unknown token algorithm {alg!r}",
                hint=f"one of {', '.join(ASYMMETRIC_ALGORITHMS)}",
            )
