"""Access control without a server: the key cache, revocation, tokens, limits, refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import modelport.services.access as access_module
from modelport.errors import PermissionDenied, RateLimited, Unauthenticated
from modelport.registry import Registry
from modelport.security.limits import Rate
from modelport.services.access import AccessControl, credential_of
from modelport.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(Settings(home=tmp_path / "home", user="tester"))


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def test_credentials_are_read_from_either_header() -> None:
    assert credential_of([(b"authorization", b"Bearer abc")]) == "abc"
    assert credential_of([(b"authorization", b"bearer  abc ")]) == "abc"
    assert credential_of([(b"x-api-key", b"abc")]) == "abc"
    assert credential_of([(b"authorization", b"Basic dTpw")]) == ""  # present, not ours
    assert credential_of([(b"accept", b"*/*")]) is None


def test_a_verified_key_is_not_hashed_again_until_it_changes(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    record, key = registry.keys.create(["predict"])
    access = AccessControl(registry)
    access.refresh()
    calls = []
    real = access_module.verify_key
    monkeypatch.setattr(access_module, "verify_key", lambda k, h: calls.append(k) or real(k, h))
    for _ in range(50):
        principal = run(access.authenticate(key, "10.0.0.1"))
    assert principal.id == record.id  # type: ignore[attr-defined]
    assert len(calls) == 1  # the slow hash once, then the memory
    registry.keys.revoke(record.id)
    access.refresh()  # what the server's poll does
    with pytest.raises(Unauthenticated):
        run(access.authenticate(key, "10.0.0.1"))


def test_roles_and_scopes(registry: Registry) -> None:
    _, key = registry.keys.create(["predict"], models=["credit-risk"])
    access = AccessControl(registry)
    access.refresh()
    principal = run(access.authenticate(key, None))
    access.authorize(principal, "predict", "credit-risk", None)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied, match="role"):
        access.authorize(principal, "feedback", None, None)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied, match="scoped"):
        access.authorize(principal, "predict", "fraud", None)  # type: ignore[arg-type]
    assert access.refused["forbidden"] == 2


def test_bad_keys_are_throttled_per_address_before_any_hashing(registry: Registry) -> None:
    clock = Clock()
    access = AccessControl(registry, clock=clock)
    access.refresh()
    refused = limited = 0
    for i in range(60):
        try:
            run(access.authenticate(f"mpk_{i:012x}_" + "z" * 43, "10.0.0.9"))
        except RateLimited as exc:
            limited += 1
            assert exc.retry_after > 0
        except Unauthenticated:
            refused += 1
    assert refused >= 20 and limited > 0  # the burst, then 429 without hashing
    # another address is not affected, and time lets the first one try again
    with pytest.raises(Unauthenticated):
        run(access.authenticate("mpk_aaaaaaaaaaaa_" + "z" * 43, "10.0.0.10"))
    clock.now += 60
    with pytest.raises(Unauthenticated):
        run(access.authenticate("mpk_bbbbbbbbbbbb_" + "z" * 43, "10.0.0.9"))


def test_the_rate_limit_refills(registry: Registry) -> None:
    clock = Clock()
    _, key = registry.keys.create(["predict"])
    access = AccessControl(registry, rate=Rate(per_second=1.0, burst=3.0), clock=clock)
    access.refresh()
    principal = run(access.authenticate(key, None))
    for _ in range(3):
        access.admit(principal, None)  # type: ignore[arg-type]
    with pytest.raises(RateLimited) as info:
        access.admit(principal, None)  # type: ignore[arg-type]
    assert info.value.retry_after == pytest.approx(1.0, abs=0.01)
    clock.now += 1.0
    access.admit(principal, None)  # type: ignore[arg-type]
    assert access.limited["rate"] == 1


def test_the_concurrency_cap(registry: Registry) -> None:
    _, key = registry.keys.create(["predict"])
    access = AccessControl(registry, max_concurrency=2)
    access.refresh()
    principal = run(access.authenticate(key, None))
    slots = [access.enter(principal, None) for _ in range(2)]  # type: ignore[arg-type]
    with pytest.raises(RateLimited):
        access.enter(principal, None)  # type: ignore[arg-type]
    access.leave(slots[0])
    assert access.enter(principal, None) is not None  # type: ignore[arg-type]


def test_refusals_are_written_in_batches_without_secrets(registry: Registry) -> None:
    access = AccessControl(registry)
    access.refresh()
    secret = "mpk_123456789abc_" + "q" * 43
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            run(access.authenticate(secret, "10.1.1.1"))
    with pytest.raises(Unauthenticated):
        run(access.authenticate(None, "10.1.1.1"))
    assert access.flush() >= 2  # grouped by reason and key id, not one row per request
    events = registry.audit.list(action="auth.refused")
    assert sum(e.detail["count"] for e in events) == 6
    assert "q" * 43 not in repr([e.summary() for e in events])
    assert access.flush() == 0


def test_auth_off_is_anonymous_with_every_role() -> None:
    access = AccessControl(None, enabled=False)
    principal = run(access.authenticate(None, None))
    access.authorize(principal, "admin", "anything", None)  # type: ignore[arg-type]


def test_concurrent_requests_with_a_new_key_share_one_verification(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = registry.keys.create(["predict"])
    access = AccessControl(registry)
    access.refresh()
    calls = []
    real = access_module.verify_key
    monkeypatch.setattr(access_module, "verify_key", lambda k, h: calls.append(k) or real(k, h))

    async def many() -> list[object]:
        return await asyncio.gather(*(access.authenticate(key, "10.0.0.1") for _ in range(32)))

    principals = run(many())
    assert len({p.id for p in principals}) == 1  # type: ignore[union-attr]
    assert len(calls) == 1
