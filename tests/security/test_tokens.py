"""Bearer tokens: what verifies, every way a token is refused, and hostile input that stays a 401.

The keys are made here with ``cryptography`` and the tokens signed with PyJWT, as an identity
provider would; the attacks (``alg: none``, HS256 keyed with the public key) are crafted by
hand, since PyJWT refuses to make them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.warnings import InsecureKeyLengthWarning

from modelport.errors import ConfigurationError, Unauthenticated
from modelport.security import tokens
from modelport.security.tokens import (
    FETCH_RETRY_SECONDS,
    MAX_TOKEN_CHARS,
    REJECT_REASONS,
    TokenIdentity,
    TokenPolicy,
    TokenRejected,
    TokenVerifier,
    looks_like_jwt,
)

ISSUER = "https://idp.example.com/realms/ml"
AUDIENCE = "modelport"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def jwk(key: Any, kid: str | None, **extra: str) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        data = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        data = OKPAlgorithm.to_jwk(public, as_dict=True)
    if kid is not None:
        data["kid"] = kid
    return {**data, **extra}


def write_jwks(path: Path, *keys: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"keys": list(keys)}))
    return path


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "roles": ["predict", "read"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: dict[str, Any], key: Any = RSA_KEY, alg: str = "RS256", kid: str | None = "rsa-1"
) -> str:
    """A token as the provider would sign it; JWS, not JWT, so that odd claims are kept as is."""
    headers = {"kid": kid} if kid is not None else None
    return jwt.PyJWS().encode(json.dumps(payload).encode(), key, algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


@pytest.fixture(scope="module")
def jwks_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    return write_jwks(path, jwk(RSA_KEY, "rsa-1"), jwk(EC_KEY, "ec-1"), jwk(ED_KEY, "ed-1"))


@pytest.fixture(scope="module")
def verifier(jwks_file: Path) -> TokenVerifier:
    return TokenVerifier(TokenPolicy(jwks_file=jwks_file, issuer=ISSUER, audience=AUDIENCE))


def rejected(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token)
    error = caught.value
    assert isinstance(error, Unauthenticated)
    assert error.message == "invalid bearer token"  # the client never learns which check failed
    assert error.reason in REJECT_REASONS
    return error.reason


# -- tokens that verify ---------------------------------------------------------------------


def test_a_good_token_names_its_subject_roles_and_expiry(verifier: TokenVerifier) -> None:
    payload = claims()
    identity = verifier.verify(sign(payload))
    assert identity == TokenIdentity(
        subject="alice",
        roles=("predict", "read"),
        models=(),
        expires_at=datetime.fromtimestamp(payload["exp"], tz=UTC),
        issuer=ISSUER,
    )


@pytest.mark.parametrize(
    ("key", "alg", "kid"), [(EC_KEY, "ES256", "ec-1"), (ED_KEY, "EdDSA", "ed-1")]
)
def test_ec_and_ed25519_keys_verify_too(
    verifier: TokenVerifier, key: Any, alg: str, kid: str
) -> None:
    assert verifier.verify(sign(claims(), key, alg, kid)).subject == "alice"


def test_an_audience_list_that_holds_ours_verifies(verifier: TokenVerifier) -> None:
    assert verifier.verify(sign(claims(aud=["other-app", AUDIENCE]))).subject == "alice"


def test_a_set_of_one_key_needs_no_kid(tmp_path: Path) -> None:
    path = write_jwks(tmp_path / "one.json", jwk(RSA_KEY, None))
    one = TokenVerifier(TokenPolicy(jwks_file=path))
    assert one.verify(sign(claims(), kid=None)).subject == "alice"


def test_without_issuer_and_audience_configured_neither_is_checked(jwks_file: Path) -> None:
    lax = TokenVerifier(TokenPolicy(jwks_file=jwks_file))
    identity = lax.verify(sign(claims(iss="https://elsewhere", aud="other-app")))
    assert identity.issuer == "https://elsewhere"


# -- the attacks ----------------------------------------------------------------------------


def test_a_token_signed_by_another_key_is_refused(verifier: TokenVerifier) -> None:
    assert rejected(verifier, sign(claims(), OTHER_RSA_KEY)) == "bad_signature"


def test_a_tampered_payload_is_refused(verifier: TokenVerifier) -> None:
    header, _, signature = sign(claims()).split(".")
    forged = b64json(claims(roles=["admin"]))
    assert rejected(verifier, f"{header}.{forged}.{signature}") == "bad_signature"


def test_an_unknown_kid_is_refused(verifier: TokenVerifier) -> None:
    assert rejected(verifier, sign(claims(), kid="rsa-2")) == "unknown_key"


def test_without_a_kid_a_set_of_several_keys_cannot_choose(verifier: TokenVerifier) -> None:
    assert rejected(verifier, sign(claims(), kid=None)) == "unknown_key"


def test_alg_none_is_refused(verifier: TokenVerifier) -> None:
    for alg in ("none", "None", "NONE"):
        token = f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(claims())}."
        assert rejected(verifier, token) == "algorithm_not_allowed"


def test_hs256_keyed_with_the_public_key_is_refused(verifier: TokenVerifier) -> None:
    # The classic key confusion: the "secret" is the provider's public key, which anyone has.
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secrets = [pem, json.dumps(jwk(RSA_KEY, "rsa-1")).encode()]
    for secret in secrets:
        signing_input = f"{b64json({'alg': 'HS256', 'kid': 'rsa-1'})}.{b64json(claims())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert rejected(verifier, f"{signing_input}.{b64(mac)}") == "algorithm_not_allowed"


def test_an_algorithm_must_fit_the_key_it_names(tmp_path: Path) -> None:
    path = write_jwks(
        tmp_path / "jwks.json", jwk(RSA_KEY, "rsa-1", alg="RS256"), jwk(EC_KEY, "ec-1")
    )
    strict = TokenVerifier(TokenPolicy(jwks_file=path))
    # An RSA key that declares RS256 verifies nothing else, an EC key no RSA signature.
    assert rejected(strict, sign(claims(), RSA_KEY, "PS256", "rsa-1")) == "unknown_key"
    assert rejected(strict, sign(claims(), RSA_KEY, "RS256", "ec-1")) == "unknown_key"


def test_an_algorithm_outside_the_policy_is_refused(jwks_file: Path) -> None:
    only_es = TokenVerifier(TokenPolicy(jwks_file=jwks_file, algorithms=("ES256",)))
    assert rejected(only_es, sign(claims())) == "algorithm_not_allowed"


def test_a_key_for_encryption_does_not_verify(tmp_path: Path) -> None:
    path = write_jwks(tmp_path / "enc.json", jwk(RSA_KEY, "rsa-1", use="enc"))
    assert rejected(TokenVerifier(TokenPolicy(jwks_file=path)), sign(claims())) == "unknown_key"


def test_a_weak_rsa_key_is_refused(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = write_jwks(tmp_path / "weak.json", jwk(weak, "weak"))
    with pytest.warns(InsecureKeyLengthWarning):  # PyJWT warns the signer too
        token = sign(claims(), weak, kid="weak")
    assert rejected(TokenVerifier(TokenPolicy(jwks_file=path)), token) == "weak_key"


def test_a_key_the_token_brings_itself_is_ignored(verifier: TokenVerifier) -> None:
    # An embedded jwk header names the attacker's key; only the configured set counts.
    headers = {"kid": "rsa-1", "jwk": jwk(OTHER_RSA_KEY, "rsa-1")}
    token = jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256", headers=headers)
    assert rejected(verifier, token) == "bad_signature"


# -- the claims -----------------------------------------------------------------------------


def test_an_expired_token_is_refused(verifier: TokenVerifier) -> None:
    assert rejected(verifier, sign(claims(exp=int(time.time()) - 3600))) == "expired"


def test_the_leeway_forgives_clock_skew_and_no_more(jwks_file: Path) -> None:
    skewed = TokenVerifier(TokenPolicy(jwks_file=jwks_file, leeway_seconds=30))
    now = int(time.time())
    assert skewed.verify(sign(claims(exp=now - 10))).subject == "alice"
    assert rejected(skewed, sign(claims(exp=now - 60))) == "expired"
    assert skewed.verify(sign(claims(nbf=now + 10, iat=now + 10))).subject == "alice"
    strict = TokenVerifier(TokenPolicy(jwks_file=jwks_file, leeway_seconds=0))
    assert rejected(strict, sign(claims(exp=now - 10))) == "expired"


def test_a_token_not_yet_valid_is_refused(verifier: TokenVerifier) -> None:
    now = int(time.time())
    assert rejected(verifier, sign(claims(nbf=now + 600))) == "not_yet_valid"
    assert rejected(verifier, sign(claims(iat=now + 600))) == "not_yet_valid"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://evil.example.com"}, "wrong_issuer"),
        ({"iss": None}, "wrong_issuer"),
        ({"iss": 7}, "wrong_issuer"),
        ({"aud": "other-app"}, "wrong_audience"),
        ({"aud": None}, "wrong_audience"),
        ({"aud": ["a", "b"]}, "wrong_audience"),
        ({"sub": None}, "missing_claim"),
        ({"sub": ""}, "missing_claim"),
        ({"sub": "  "}, "missing_claim"),
        ({"exp": None}, "missing_claim"),
        ({"sub": 42}, "bad_claim"),
        ({"exp": "tomorrow"}, "malformed"),
        ({"exp": 10**20}, "bad_claim"),
        ({"iat": "now"}, "bad_claim"),
        ({"jti": 5}, "bad_claim"),
    ],
)
def test_bad_claims_are_refused(
    verifier: TokenVerifier, overrides: dict[str, Any], reason: str
) -> None:
    payload = claims()
    for name, value in overrides.items():
        if value is None:
            payload.pop(name)
        else:
            payload[name] = value
    assert rejected(verifier, sign(payload)) == reason


def test_roles_come_from_a_nested_claim(jwks_file: Path) -> None:
    keycloak = TokenVerifier(TokenPolicy(jwks_file=jwks_file, roles_claim="realm_access.roles"))
    token = sign(claims(roles=None, realm_access={"roles": ["admin", "offline_access"]}))
    assert keycloak.verify(token).roles == ("admin",)
    assert keycloak.verify(sign(claims(realm_access="admin"))).roles == ()


def test_roles_come_from_a_space_separated_string(jwks_file: Path) -> None:
    scoped = TokenVerifier(TokenPolicy(jwks_file=jwks_file, roles_claim="scope"))
    token = sign(claims(scope="openid feedback  predict email"))
    assert scoped.verify(token).roles == ("predict", "feedback")


def test_a_claim_whose_name_has_dots_is_found(jwks_file: Path) -> None:
    auth0 = TokenVerifier(TokenPolicy(jwks_file=jwks_file, roles_claim="https://mp.example/roles"))
    token = sign(claims(**{"https://mp.example/roles": ["read"]}))
    assert auth0.verify(token).roles == ("read",)


@pytest.mark.parametrize(
    "value", [["superuser", "ADMIN", "admin "], "root", 42, {"admin": True}, [["admin"]], None]
)
def test_unknown_or_malformed_roles_grant_nothing(verifier: TokenVerifier, value: Any) -> None:
    assert verifier.verify(sign(claims(roles=value))).roles == ()


def test_a_models_claim_scopes_the_token_and_must_be_there(jwks_file: Path) -> None:
    scoped = TokenVerifier(TokenPolicy(jwks_file=jwks_file, models_claim="modelport.models"))
    token = sign(claims(modelport={"models": ["credit-risk", "churn", "churn"]}))
    assert scoped.verify(token).models == ("credit-risk", "churn")
    assert scoped.verify(sign(claims(modelport={"models": "churn"}))).models == ("churn",)
    # Missing, the token would reach every model: refused instead.
    assert rejected(scoped, sign(claims())) == "no_models"
    assert rejected(scoped, sign(claims(modelport={"models": []}))) == "no_models"


# -- hostile input --------------------------------------------------------------------------


def test_a_huge_token_is_refused_before_parsing(verifier: TokenVerifier) -> None:
    token = sign(claims(padding="x" * MAX_TOKEN_CHARS))
    assert rejected(verifier, token) == "too_long"
    assert rejected(verifier, "a" * 10_000_000) == "too_long"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "Bearer",
        "...",
        "a.b",
        "a.b.c.d",
        "mp_live_5f3c2a9b",
        "\u00e9.\u00e9.\u00e9",
        f"{b64json(['alg'])}.{b64json({})}.",
        f"{b64json({'typ': 'JWT'})}.{b64json({})}.",
        f"{b64json({'alg': ['RS256']})}.{b64json({})}.",
        f"{b64json({'alg': 'RS256', 'kid': 7})}.{b64json({})}.",
        f"{b64json({'alg': 'RS256', 'kid': 'rsa-1'})}.not-json.",
        f"{b64json({'alg': 'RS256', 'kid': 'rsa-1'})}.{b64json(claims())}.!!",
        f"{b64(b'[' * 5000)}.{b64json({})}.",
    ],
)
def test_garbage_is_refused(verifier: TokenVerifier, token: str) -> None:
    rejected(verifier, token)


_B64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_HEADERS = st.fixed_dictionaries(
    {"alg": st.sampled_from(["RS256", "ES256", "EdDSA", "HS256", "none", "PS256"])},
    optional={"kid": st.sampled_from(["rsa-1", "ec-1", "ed-1", "x"]) | _JSON, "typ": _JSON},
)


@settings(max_examples=300)
@given(st.text(max_size=200) | _B64.map(lambda s: ".".join([s[:9], s[9:20], s[20:]])))
def test_random_text_is_always_a_token_rejected(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(TokenRejected):
        verifier.verify(token)


@settings(max_examples=300)
@given(_HEADERS, st.binary(max_size=300) | _JSON.map(lambda v: json.dumps(v).encode()), _B64)
def test_three_part_tokens_with_any_header_and_payload_are_rejected(
    verifier: TokenVerifier, header: dict[str, Any], payload: bytes, signature: str
) -> None:
    token = f"{b64json(header)}.{b64(payload)}.{signature}"
    with pytest.raises(TokenRejected):
        verifier.verify(token)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["sub", "exp", "nbf", "iat", "iss", "aud", "roles"]), _JSON))
def test_any_claims_signed_by_the_provider_verify_or_are_rejected(
    verifier: TokenVerifier, extra: dict[str, Any]
) -> None:
    # Even a trusted provider's odd claims must not turn into a 500.
    try:
        identity = verifier.verify(sign({**claims(), **extra}))
    except TokenRejected:
        return
    assert isinstance(identity.subject, str) and identity.subject.strip()
    assert set(identity.roles) <= {"predict", "read", "feedback", "admin"}


def test_looks_like_jwt_tells_tokens_from_api_keys() -> None:
    assert looks_like_jwt(sign(claims()))
    assert looks_like_jwt(f"{b64json({'alg': 'none'})}.{b64json({})}.")
    for text in [
        "mp_live_5f3c2a9b",
        "a.b.c",
        f"{b64json({'typ': 'JWT'})}.{b64json({})}.sig",
        f"{b64json({'alg': 'RS256'})}..sig",
        f"{b64json({'alg': 'RS256'})}.e30.s.extra",
        "x" * (MAX_TOKEN_CHARS + 1),
        "",
    ]:
        assert not looks_like_jwt(text), text


# -- the policy and the key sources ---------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"jwks_file": Path("a.json"), "jwks_url": "https://idp.example.com/jwks"},
        {"jwks_url": "http://idp.example.com/jwks"},
        {"jwks_url": "file:///etc/passwd"},
        {"jwks_url": "https://"},
        {"jwks_file": Path("a.json"), "algorithms": ("HS256",)},
        {"jwks_file": Path("a.json"), "algorithms": ("RS256", "none")},
        {"jwks_file": Path("a.json"), "algorithms": ("RS999",)},
        {"jwks_file": Path("a.json"), "algorithms": ()},
        {"jwks_file": Path("a.json"), "leeway_seconds": -1},
        {"jwks_file": Path("a.json"), "leeway_seconds": float("inf")},
        {"jwks_file": Path("a.json"), "roles_claim": ""},
        {"jwks_file": Path("a.json"), "models_claim": "."},
    ],
)
def test_a_policy_that_cannot_work_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        TokenPolicy(**kwargs)
    assert caught.value.hint


def test_refusing_hs256_explains_key_confusion() -> None:
    with pytest.raises(ConfigurationError, match="key confusion"):
        TokenPolicy(jwks_file=Path("a.json"), algorithms=("HS256",))


@pytest.mark.parametrize("content", [None, "not json", '{"keys": []}', '{"keys": [{"kty": "x"}]}'])
def test_a_jwks_file_that_cannot_be_read_is_a_configuration_error(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError) as caught:
        TokenVerifier(TokenPolicy(jwks_file=path))
    assert str(path) in caught.value.message


def test_reload_picks_up_a_rotated_key_and_a_broken_file_keeps_the_old(tmp_path: Path) -> None:
    path = write_jwks(tmp_path / "jwks.json", jwk(RSA_KEY, "rsa-1"))
    rotating = TokenVerifier(TokenPolicy(jwks_file=path))
    new_token = sign(claims(), OTHER_RSA_KEY, kid="rsa-2")
    assert rejected(rotating, new_token) == "unknown_key"
    write_jwks(path, jwk(RSA_KEY, "rsa-1"), jwk(OTHER_RSA_KEY, "rsa-2"))
    rotating.reload()
    assert rotating.verify(new_token).subject == "alice"
    path.write_text("{")
    with pytest.raises(ConfigurationError):
        rotating.reload()
    assert rotating.verify(new_token).subject == "alice"


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    body = b""
    requests = 0
    status = 200  # 503: the provider is down

    def do_GET(self) -> None:
        type(self).requests += 1
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, type[_JwksHandler]]]:
    class Handler(_JwksHandler):  # a class per test: its own request count
        body = json.dumps({"keys": [jwk(RSA_KEY, "rsa-1")]}).encode()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks", Handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_keys_from_the_providers_url_are_fetched_once_and_cached(
    jwks_server: tuple[str, type[_JwksHandler]],
) -> None:
    url, handler = jwks_server
    remote = TokenVerifier(TokenPolicy(jwks_url=url, issuer=ISSUER))
    assert handler.requests == 0  # nothing is fetched before a token comes
    for _ in range(3):
        assert remote.verify(sign(claims())).subject == "alice"
    assert handler.requests == 1


def test_made_up_kids_do_not_hammer_the_provider(
    jwks_server: tuple[str, type[_JwksHandler]],
) -> None:
    url, handler = jwks_server
    remote = TokenVerifier(TokenPolicy(jwks_url=url))
    for i in range(20):
        assert rejected(remote, sign(claims(), kid=f"made-up-{i}")) == "unknown_key"
    assert handler.requests <= 2  # the first fetch, and at most one refresh per cooldown


def test_a_provider_that_is_down_is_asked_again_only_after_a_pause(
    jwks_server: tuple[str, type[_JwksHandler]], caplog: pytest.LogCaptureFixture
) -> None:
    url, handler = jwks_server
    handler.status = 503
    clock = FakeClock()
    remote = TokenVerifier(TokenPolicy(jwks_url=url), clock=clock)
    for _ in range(5):
        assert rejected(remote, sign(claims())) == "jwks_unavailable"
    assert handler.requests == 1  # each try may block a request: one per pause
    assert "refusing tokens" in caplog.text
    handler.status = 200
    clock.now += FETCH_RETRY_SECONDS
    assert remote.verify(sign(claims())).subject == "alice"
    assert handler.requests == 2


@pytest.mark.parametrize(("status", "body"), [(503, b"down"), (200, b"<html>"), (200, b"[]")])
def test_while_the_provider_fails_its_last_keys_stay_in_use(
    jwks_server: tuple[str, type[_JwksHandler]],
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: bytes,
) -> None:
    url, handler = jwks_server
    monkeypatch.setattr(tokens, "JWKS_CACHE_SECONDS", 0.05)
    remote = TokenVerifier(TokenPolicy(jwks_url=url))
    assert remote.verify(sign(claims())).subject == "alice"
    handler.status, handler.body = status, body
    time.sleep(0.1)  # PyJWT's cache of the key set expires
    for _ in range(3):
        assert remote.verify(sign(claims())).subject == "alice"
    assert handler.requests == 2
    assert rejected(remote, sign(claims(), kid="rotated-in")) == "unknown_key"
    assert handler.requests == 2  # no refresh for a new kid during the pause either


def test_a_provider_that_cannot_be_reached_refuses_tokens() -> None:
    dead = TokenVerifier(TokenPolicy(jwks_url="http://127.0.0.1:9/jwks"))  # nobody listens
    assert rejected(dead, sign(claims())) == "jwks_unavailable"
