"""The security audit trail: appended, filtered, newest first; secrets refused whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelport.errors import InvalidArgument
from modelport.registry import Registry
from modelport.registry.audit import AuditEvent

KEY = "mpk_0123456789ab_" + "c" * 43


def test_append_and_list_newest_first_with_the_default_actor(registry: Registry) -> None:
    registry.audit.append("auth.refused", target="key:0123456789ab", detail={"why": "revoked"})
    registry.audit.append("auth.forbidden", actor="key:0123456789ab", detail={"route": "/x"})
    events = registry.audit.list()
    assert [(e.action, e.actor) for e in events] == [
        ("auth.forbidden", "key:0123456789ab"),
        ("auth.refused", "tester"),
    ]
    assert events[1].detail == {"why": "revoked"} and events[1].target == "key:0123456789ab"
    assert events[0].id is not None and events[1].id is not None and events[0].id > events[1].id
    assert events[0].at.tzinfo is not None
    summary = events[1].summary()
    assert summary["action"] == "auth.refused" and summary["detail"] == {"why": "revoked"}
    assert datetime.fromisoformat(summary["at"]) == events[1].at


def test_filter_by_action_family_since_and_limit(registry: Registry) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=3)
    registry.audit.append_many(
        [
            AuditEvent(long_ago, "server", "auth.refused"),
            AuditEvent(long_ago, "server", "authx.other"),
            AuditEvent(long_ago, "server", "auth_x.other"),  # `_` is no LIKE wildcard here
        ]
    )
    registry.audit.append("auth.refused", actor="server")
    registry.audit.append("key.create", target="key:0123456789ab")
    assert len(registry.audit.list(action="auth.refused")) == 2
    assert {e.action for e in registry.audit.list(action="auth")} == {"auth.refused"}
    assert [e.action for e in registry.audit.list(action="auth_x")] == ["auth_x.other"]
    assert registry.audit.list(action="auth.ref") == []  # families end at a dot
    recent = registry.audit.list(since=datetime.now(UTC) - timedelta(days=1))
    assert [e.action for e in recent] == ["key.create", "auth.refused"]
    assert [e.action for e in registry.audit.list(limit=1)] == ["key.create"]


def test_append_many_is_one_transaction(registry: Registry) -> None:
    now = datetime.now(UTC)
    good = AuditEvent(now, "server", "auth.refused", detail={"n": 1})
    with pytest.raises(InvalidArgument, match="may not contain an API key"):
        registry.audit.append_many([good, AuditEvent(now, "server", "auth.refused", KEY)])
    assert registry.audit.list() == []  # the good one was not written either
    registry.audit.append_many([good, good])
    assert len(registry.audit.list()) == 2
    registry.audit.append_many([])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"detail": {"header": f"Bearer {KEY}"}}, "may not contain an API key"),
        ({"detail": {"cut": KEY[:-20]}}, "may not contain an API key"),
        ({"target": KEY}, "may not contain an API key"),
        ({"actor": KEY}, "may not contain an API key"),
        ({"actor": KEY + "x" * 200}, "may not contain an API key"),  # not "too long: mpk_..."
        ({"detail": {"x": {1, 2}}}, "must be JSON"),
        ({"detail": {"x": float("nan")}}, "must be JSON"),
        ({"detail": ["a list"]}, "JSON object"),
        ({"detail": {"x": "y" * 20_000}}, "at most"),
        ({"target": "t" * 257}, "at most 256"),
        ({"actor": "a" * 129}, "1 to 128"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_stored(
    registry: Registry, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidArgument, match=match):
        registry.audit.append("auth.refused", **kwargs)  # type: ignore[arg-type]
    assert registry.audit.list() == []


@pytest.mark.parametrize("action", ["", "Key.Create", "key.", ".key", "key create", "k" * 65])
def test_bad_actions_are_refused(registry: Registry, action: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid audit action"):
        registry.audit.append(action)
    with pytest.raises(InvalidArgument, match="invalid audit action"):
        registry.audit.list(action=action)


@pytest.mark.parametrize("limit", [0, -1, 10_001])
def test_the_limit_is_bounded(registry: Registry, limit: int) -> None:
    with pytest.raises(InvalidArgument, match="out of range"):
        registry.audit.list(limit=limit)
