"""API keys without a database: their shape, the scrypt hash, roles, expiry, the record."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from modelport.errors import InvalidArgument
from modelport.security.keys import (
    KEY_LENGTH,
    ROLES,
    ApiKey,
    covers,
    hash_key,
    is_key_id,
    key_id,
    new_key,
    parse_expiry,
    parse_roles,
    role_covers,
    verify_key,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_new_key_has_its_id_inside_and_a_long_random_secret() -> None:
    identifier, key = new_key()
    assert len(identifier) == 12 and set(identifier) <= set("0123456789abcdef")
    assert key.startswith(f"mpk_{identifier}_") and len(key) == KEY_LENGTH == 60
    assert key_id(key) == identifier and is_key_id(identifier)
    assert len({new_key()[1] for _ in range(50)}) == 50


def test_hash_and_verify_round_trip() -> None:
    _, key = new_key()
    stored = hash_key(key)
    assert verify_key(key, stored)
    assert key not in stored and key.split("_", 2)[2] not in stored
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32


def test_the_same_key_hashes_differently_each_time() -> None:
    _, key = new_key()
    assert hash_key(key) != hash_key(key)  # a fresh salt each time


def test_a_wrong_key_does_not_verify() -> None:
    identifier, key = new_key()
    stored = hash_key(key)
    assert not verify_key(new_key()[1], stored)
    # the same id with another secret: the id is not the credential
    other = f"mpk_{identifier}_{new_key()[1].split('_', 2)[2]}"
    assert other != key and not verify_key(other, stored)
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert not verify_key(flipped, stored)


def test_a_tampered_stored_hash_does_not_verify() -> None:
    _, key = new_key()
    scheme, n, r, p, salt, digest = hash_key(key).split("$")
    raw = bytearray(base64.b64decode(digest))
    raw[0] ^= 1
    tampered = "$".join([scheme, n, r, p, salt, base64.b64encode(bytes(raw)).decode()])
    assert not verify_key(key, tampered)
    other_salt = base64.b64encode(bytes(16)).decode()
    assert not verify_key(key, "$".join([scheme, n, r, p, other_salt, digest]))
    assert not verify_key(key, "$".join([scheme, "8192", r, p, salt, digest]))


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "scrypt",
        "scrypt$16384$8$1$c2FsdA==",
        "bcrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16385$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$x$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$8$1$not base64!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$",
        "scrypt$\u0661\u0666384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "x" * 10_000,
    ],
)
def test_a_malformed_stored_string_is_false_not_an_error(stored: str) -> None:
    assert verify_key(new_key()[1], stored) is False


def test_things_that_are_not_keys_never_verify() -> None:
    _, key = new_key()
    stored = hash_key(key)
    for bad in (None, b"mpk_", key + "\n", " " + key, key.upper(), 42):
        assert verify_key(bad, stored) is False
    with pytest.raises(InvalidArgument):
        hash_key("password")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mpk_",
        "mpk__",
        "Bearer mpk_0123456789ab_" + "a" * 43,
        "mpk_0123456789ab_" + "a" * 42,  # the secret one short
        "mpk_0123456789ab_" + "a" * 44,
        "mpk_0123456789ab" + "a" * 44,  # no separator
        "mpk_0123456789AB_" + "a" * 43,  # uppercase id
        "mpk_0123456789ag_" + "a" * 43,  # not hex
        "mpk_0123456789ab_" + "a" * 42 + "=",
        "mpk_0123456789ab_" + "a" * 42 + "\n",
        "mpk_0123456789ab_" + "\u00e9" * 43,
        "mpk_\u0660123456789ab_" + "a" * 42,  # an Arabic-Indic zero is no hex digit
        "mpk_0123456789ab_" + "a" * 43 + "a" * 1_000_000,
        "apk_0123456789ab_" + "a" * 43,
    ],
)
def test_key_id_is_none_for_anything_not_shaped_like_a_key(text: str) -> None:
    assert key_id(text) is None


def test_key_id_accepts_every_urlsafe_character_in_the_secret() -> None:
    assert key_id("mpk_0123456789ab_" + "-_" * 21 + "Z") == "0123456789ab"
    assert key_id(b"mpk_0123456789ab_" + b"a" * 43) is None  # bytes are not text


def test_admin_covers_every_role_and_the_others_only_themselves() -> None:
    assert ROLES == ("predict", "feedback", "read", "admin")
    assert all(role_covers("admin", needed) for needed in ROLES)
    assert role_covers("read", "read") and not role_covers("read", "predict")
    assert not role_covers("predict", "admin") and not role_covers("feedback", "read")
    assert covers(("predict", "feedback"), "feedback") and not covers(("predict",), "read")
    assert not covers((), "read")


def test_parse_roles_validates_deduplicates_and_orders() -> None:
    assert parse_roles(["admin", "predict", "predict"]) == ("predict", "admin")
    with pytest.raises(
        InvalidArgument, match=r"unknown role 'Admin'.*predict, feedback, read, admin"
    ):
        parse_roles(["Admin"])
    with pytest.raises(InvalidArgument, match="at least one role"):
        parse_roles([])


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90min", timedelta(minutes=90)),
        ("1w", timedelta(weeks=1)),
        (" 2 h ", timedelta(hours=2)),
    ],
)
def test_expiry_durations(text: str, delta: timedelta) -> None:
    assert parse_expiry(text, NOW) == NOW + delta


def test_expiry_as_an_iso_time() -> None:
    assert parse_expiry("2027-01-31", NOW) == datetime(2027, 1, 31, tzinfo=UTC)
    assert parse_expiry("2027-01-31T10:00:00+02:00", NOW) == datetime(2027, 1, 31, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "0d",
        "0min",
        "-1d",
        "-30d",
        "30",
        "30m",  # minutes or months? refused, not guessed
        "1y",
        "1.5d",
        "soon",
        "",
        "\u0663d",
        "9999999w",
        "999999w",  # past the year 9999
        "2026-12-01",  # in the past
        "2026-12-02T12:00:00+00:00",  # now is not the future
        "2027-13-01",
        "x" * 1000,
    ],
)
def test_bad_expiries_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_expiry(text, NOW)
    assert caught.value.hint and "30d" in caught.value.hint


def _key(**kw: object) -> ApiKey:
    fields: dict[str, object] = {
        "id": "0123456789ab",
        "roles": ("predict",),
        "models": (),
        "description": None,
        "created_by": "alice",
        "created_at": NOW,
        "expires_at": None,
        "revoked_at": None,
    }
    fields.update(kw)
    return ApiKey(**fields)  # type: ignore[arg-type]


def test_a_key_is_active_until_it_expires_or_is_revoked() -> None:
    key = _key(expires_at=NOW + timedelta(days=1))
    assert key.active(NOW) and key.status(NOW) == "active"
    later = NOW + timedelta(days=1)
    assert not key.active(later) and key.status(later) == "expired"
    revoked = _key(expires_at=NOW - timedelta(days=1), revoked_at=NOW)
    assert not revoked.active(NOW) and revoked.status(NOW) == "revoked"


def test_an_empty_model_scope_is_every_model() -> None:
    assert _key().allows_model("anything")
    scoped = _key(models=("credit-risk", "checkout"))
    assert scoped.allows_model("checkout") and not scoped.allows_model("churn")


def test_the_summary_is_json_and_holds_no_secret() -> None:
    summary = _key(roles=("read", "admin"), expires_at=NOW + timedelta(hours=1)).summary(NOW)
    assert summary == {
        "id": "0123456789ab",
        "roles": ["read", "admin"],
        "models": [],
        "description": None,
        "created_by": "alice",
        "created_at": "2026-12-02T12:00:00+00:00",
        "expires_at": "2026-12-02T13:00:00+00:00",
        "revoked_at": None,
        "status": "active",
    }
    assert _key().has_role("predict") and not _key().has_role("read")
    assert _key(roles=("admin",)).has_role("read")
