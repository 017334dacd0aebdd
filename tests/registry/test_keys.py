"""API keys in the registry: only hashes stored, listed, looked up, revoked, each audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from modelport.errors import ConflictError, InvalidArgument, InvalidReference, NotFoundError
from modelport.registry import Registry
from modelport.security.keys import key_id, verify_key
from modelport.settings import Settings


def test_create_returns_the_key_once_and_stores_only_a_hash_that_verifies(
    registry: Registry,
) -> None:
    record, key = registry.keys.create(["predict", "feedback"], models=["churn"])
    assert key_id(key) == record.id
    assert record.roles == ("predict", "feedback") and record.models == ("churn",)
    assert record.created_by == registry.settings.actor() and record.active(datetime.now(UTC))
    found = registry.keys.lookup(record.id)
    assert found is not None
    stored_record, stored_hash = found
    assert stored_record == record
    assert stored_hash != key and key not in stored_hash and verify_key(key, stored_hash)
    assert not verify_key(registry.keys.create(["read"])[1], stored_hash)


def test_the_secret_is_nowhere_in_the_database_file(tmp_path: Path) -> None:
    registry = Registry(Settings(home=tmp_path / "home", user="tester"))
    keys = [registry.keys.create(["admin"], description="ops")[1] for _ in range(3)]
    registry.keys.revoke(key_id(keys[0]) or "", reason="rotated")
    registry.close()
    files = [p for p in (tmp_path / "home").rglob("registry.db*") if p.is_file()]
    assert files  # the database (and its write-ahead log) were found
    stored = b"".join(p.read_bytes() for p in files)
    for key in keys:
        secret = key.split("_", 2)[2]
        assert key_id(key) is not None and key_id(key).encode() in stored  # type: ignore[union-attr]
        assert secret.encode() not in stored and key.encode() not in stored


def test_get_list_and_revoke(registry: Registry) -> None:
    first, _ = registry.keys.create(["read"], description="dashboard")
    second, _ = registry.keys.create(["admin"])
    assert [k.id for k in registry.keys.list()] == [first.id, second.id]
    assert registry.keys.get(first.id).description == "dashboard"
    revoked = registry.keys.revoke(first.id, reason="leaked")
    assert revoked.revoked_at is not None and not revoked.active(datetime.now(UTC))
    assert revoked.summary()["status"] == "revoked"
    assert registry.keys.get(first.id) == revoked
    assert [k.id for k in registry.keys.list(include_revoked=False)] == [second.id]
    assert [k.id for k in registry.keys.list()] == [first.id, second.id]
    with pytest.raises(ConflictError, match=f"{first.id} was already revoked at .* by tester"):
        registry.keys.revoke(first.id)
    found = registry.keys.lookup(first.id)
    assert found is not None and found[0].revoked_at is not None


def test_an_expired_key_is_not_active(registry: Registry) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=5)
    record, _ = registry.keys.create(["predict"], expires_at=soon)
    stored = registry.keys.get(record.id)
    assert stored.expires_at == soon
    assert stored.active(soon - timedelta(seconds=1)) and not stored.active(soon)
    assert stored.summary(soon)["status"] == "expired"


@pytest.mark.parametrize("identifier", ["nope", "0123456789ab", "", "x" * 10_000, "ab' OR 1=1"])
def test_unknown_ids_are_not_found(registry: Registry, identifier: str) -> None:
    assert registry.keys.lookup(identifier) is None
    with pytest.raises(NotFoundError, match="no API key"):
        registry.keys.get(identifier)
    with pytest.raises(NotFoundError):
        registry.keys.revoke(identifier)


def test_a_whole_key_given_as_an_id_is_never_echoed(registry: Registry) -> None:
    record, key = registry.keys.create(["read"])
    secret = key.split("_", 2)[2]
    for given in (key, f" {key}\n", f"Bearer {key}"):
        with pytest.raises(NotFoundError) as caught:
            registry.keys.revoke(given)
        assert secret[:8] not in str(caught.value) and record.id in str(caught.value.hint)
        assert registry.keys.lookup(given) is None
    assert registry.keys.get(record.id).revoked_at is None


def test_a_single_string_is_not_read_as_a_list_of_letters(registry: Registry) -> None:
    with pytest.raises(InvalidArgument, match="roles are a list"):
        registry.keys.create("admin")
    with pytest.raises(InvalidArgument, match="models are a list"):
        registry.keys.create(["read"], models="churn")
    assert registry.keys.list() == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"roles": ["reader"]}, InvalidArgument, "unknown role 'reader'"),
        ({"roles": []}, InvalidArgument, "at least one role"),
        ({"models": ["bad name"]}, InvalidReference, "invalid model name"),
        ({"expires_at": datetime.now(UTC) - timedelta(seconds=1)}, InvalidArgument, "future"),
        ({"description": "x" * 501}, InvalidArgument, "at most 500"),
        ({"description": "old mpk_0123456789ab_" + "a" * 43}, InvalidArgument, "contains an API"),
    ],
)
def test_bad_keys_are_refused_and_nothing_is_stored(
    registry: Registry, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    arguments: dict[str, object] = {"roles": ["read"], **kwargs}
    roles = arguments.pop("roles")
    with pytest.raises(error, match=match):
        registry.keys.create(roles, **arguments)  # type: ignore[arg-type]
    assert registry.keys.list() == [] and registry.audit.list() == []
    assert registry.keys.revision() == (0, 0)


def test_the_revision_changes_on_every_create_and_revoke(registry: Registry) -> None:
    seen = [registry.keys.revision()]
    first, _ = registry.keys.create(["read"])
    seen.append(registry.keys.revision())
    registry.keys.create(["predict"])
    seen.append(registry.keys.revision())
    registry.keys.revoke(first.id)
    seen.append(registry.keys.revision())
    with pytest.raises(ConflictError):
        registry.keys.revoke(first.id)
    assert registry.keys.revision() == seen[-1]  # a refused change is no change
    assert len(set(seen)) == len(seen) == 4


def test_create_and_revoke_are_audited_with_the_actor(registry: Registry) -> None:
    record, key = registry.keys.create(["predict"], models=["churn"], description="svc")
    registry.keys.revoke(record.id, reason="rotated")
    events = registry.audit.list(action="key")
    assert [(e.action, e.actor, e.target) for e in events] == [
        ("key.revoke", "tester", f"key:{record.id}"),
        ("key.create", "tester", f"key:{record.id}"),
    ]
    assert events[0].detail == {"reason": "rotated"}
    assert events[1].detail["roles"] == ["predict"] and events[1].detail["models"] == ["churn"]
    assert key not in str([e.summary() for e in events])


def test_a_revocation_that_cannot_be_audited_is_not_made(registry: Registry) -> None:
    record, _ = registry.keys.create(["read"])
    with pytest.raises(InvalidArgument):
        registry.keys.revoke(record.id, reason="it was mpk_0123456789ab_" + "b" * 43)
    assert registry.keys.get(record.id).revoked_at is None


def test_the_tables_exist_after_migration(registry: Registry) -> None:
    with registry.db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 0


def test_migration_0004_downgrades_and_upgrades_again(registry: Registry) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from modelport.registry.database import MIGRATIONS

    registry.keys.create(["read"])
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with registry.db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
        tables = set(inspect(conn).get_table_names())
        assert "api_keys" not in tables and "audit_events" not in tables
        assert "canaries" in tables  # only 0004 was undone
        command.upgrade(config, "head")
    assert registry.keys.list() == [] and registry.keys.revision() == (0, 0)
