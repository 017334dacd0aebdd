"""``modelport keys`` and ``modelport audit``: the key shown once, listings without secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelport.cli import app
from modelport.registry import Registry
from modelport.security.keys import key_id, verify_key
from modelport.settings import Settings

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "keeper")
    return Settings()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _stored(settings: Settings, identifier: str) -> str:
    registry = Registry(settings)
    try:
        found = registry.keys.lookup(identifier)
        assert found is not None
        return found[1]
    finally:
        registry.close()


def test_create_json_prints_the_id_and_a_key_that_verifies(home: Settings) -> None:
    code, out = run(
        "keys", "create", "--role", "predict", "--role", "feedback",
        "--model", "credit-risk", "--expires", "30d", "--description", "checkout", "--json",
    )  # fmt: skip
    assert code == 0, out
    created = json.loads(out)
    assert key_id(created["key"]) == created["id"]
    assert created["roles"] == ["predict", "feedback"] and created["models"] == ["credit-risk"]
    expires = datetime.fromisoformat(created["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert verify_key(created["key"], _stored(home, created["id"]))


def test_create_for_people_shows_the_key_once_and_how_to_send_it(home: Settings) -> None:
    code, out = run("keys", "create", "--role", "read")
    assert code == 0, out
    keys = [word for word in out.split() if key_id(word) is not None]
    assert len(keys) == 1, out  # the whole key on one line, unbroken, to copy
    assert "only once" in out
    assert "Authorization: Bearer KEY" in out and "X-API-Key: KEY" in out
    assert verify_key(keys[0], _stored(home, key_id(keys[0]) or ""))


def test_list_json_has_no_key_and_no_hash(home: Settings) -> None:
    created = [
        json.loads(run("keys", "create", "--role", r, "--json")[1]) for r in ("read", "admin")
    ]
    code, out = run("keys", "list", "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert [k["id"] for k in listed] == [c["id"] for c in created]
    for entry in listed:
        assert "key" not in entry and "key_hash" not in entry and "hash" not in entry
        assert entry["status"] == "active" and entry["created_by"] == "keeper"
    for c in created:
        assert c["key"] not in out and "scrypt$" not in out
    code, out = run("keys", "list")
    assert code == 0 and created[0]["id"] in out and "scrypt" not in out, out
    assert all(c["key"] not in out for c in created)


def test_revoke_then_list_and_audit(home: Settings) -> None:
    created = json.loads(run("keys", "create", "--role", "predict", "--json")[1])
    code, out = run("keys", "revoke", created["id"], "--reason", "laptop lost")
    assert code == 0 and f"revoked API key {created['id']}" in out, out
    listed = json.loads(run("keys", "list", "--json")[1])
    assert listed[0]["status"] == "revoked" and listed[0]["revoked_at"] is not None
    code, out = run("keys", "revoke", created["id"])
    assert code == 1 and "already revoked" in out, out
    code, out = run("audit", "list", "--json")
    assert code == 0, out
    events = json.loads(out)
    assert [(e["action"], e["actor"], e["target"]) for e in events] == [
        ("key.revoke", "keeper", f"key:{created['id']}"),
        ("key.create", "keeper", f"key:{created['id']}"),
    ]
    assert events[0]["detail"] == {"reason": "laptop lost"}
    assert created["key"] not in out
    code, out = run("audit", "list", "--action", "key.revoke", "--limit", "5", "--json")
    assert [e["action"] for e in json.loads(out)] == ["key.revoke"]
    code, out = run("audit", "list")
    assert code == 0 and "key.create" in out and "keeper" in out, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "superuser"], "unknown role 'superuser'"),
        (["--role", "read", "--role", "Admin"], "unknown role 'Admin'"),
        (["--role", "read", "--expires", "0d"], "no time at all"),
        (["--role", "read", "--expires", "-1d"], "negative"),
        (["--role", "read", "--expires", "soon"], "not a time"),
        (["--role", "read", "--model", "no good"], "invalid model name"),
    ],
)
def test_bad_keys_exit_1_with_a_clear_error_and_store_nothing(
    home: Settings, args: list[str], message: str
) -> None:
    code, out = run("keys", "create", *args)
    assert code == 1 and "error:" in out and message in out, out
    assert "Traceback" not in out
    code, out = run("keys", "list", "--json")
    assert code == 0 and json.loads(out) == []
    assert json.loads(run("audit", "list", "--json")[1]) == []


def test_unknown_ids_and_limits_are_errors(home: Settings) -> None:
    code, out = run("keys", "revoke", "0123456789ab")
    assert code == 1 and "no API key" in out and "keys list" in out, out
    code, out = run("audit", "list", "--limit", "0")
    assert code == 1 and "out of range" in out, out
    assert run("keys", "create")[0] == 2  # --role is required: a usage error
