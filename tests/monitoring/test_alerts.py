from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import orjson
import pytest

from modelport.errors import ConfigurationError
from modelport.monitoring.actions import AlertJournal, fire
from modelport.monitoring.alerts import AlertState, evaluate, load_rules, observations, parse_rules

RULES = """
rules:
  - name: income-drift
    model: credit-risk
    metric: drift.*.psi
    above: 0.2
    cooldown: 30m
    actions: [log]
  - name: accuracy-drop
    model: credit-risk
    metric: performance.accuracy
    below: 0.7
    actions:
      - log
      - webhook: {url}
      - rollback: production
"""

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_rules_parse_and_bad_files_name_the_fault(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(RULES.format(url="http://x"))
    rules = load_rules(path)
    assert [r.name for r in rules] == ["income-drift", "accuracy-drop"]
    assert rules[0].cooldown == timedelta(minutes=30) and rules[1].actions[2].target == "production"
    for bad, needle in [
        ({"rules": [{"model": "m", "metric": "x"}]}, "exactly one"),
        ({"rules": [{"model": "m", "metric": "x", "above": "high"}]}, "number"),
        ({"rules": [{"model": "m", "metric": "x", "above": 1, "actions": ["email"]}]}, "action"),
        ({"rules": [{"model": "m", "metric": "x", "above": 1, "window": "soon"}]}, "duration"),
        ({"rules": [{"model": "m", "metric": "x", "above": 1, "colour": 1}]}, "unknown"),
        ({"rule": []}, "rules"),
    ]:
        with pytest.raises(ConfigurationError, match=needle):
            parse_rules(bad)
    path.write_text("rules: [")
    with pytest.raises(ConfigurationError, match="YAML"):
        load_rules(path)


def test_observations_flatten_drift_and_performance() -> None:
    report = {
        "drift": True,
        "features": {
            "income": {"drift": True, "psi": 0.4, "effect": 0.1, "test": "ks", "p_value": None},
            "age": {"drift": False, "psi": 0.01, "effect": 0.0},
        },
        "predictions": {"drift": False, "psi": 0.02},
    }
    values = observations(report, {"accuracy": 0.65, "roc_auc": None}, count=100)
    assert values["drift.detected"] == 1.0 and values["drift.share"] == 0.5
    assert values["drift.income.psi"] == 0.4 and values["drift.predictions.psi"] == 0.02
    assert values["performance.accuracy"] == 0.65 and "performance.roc_auc" not in values
    assert values["traffic.count"] == 100


def test_evaluate_matches_globs_thresholds_and_dedups() -> None:
    rules = parse_rules(
        {
            "rules": [
                {
                    "name": "d",
                    "model": "m",
                    "metric": "drift.*.psi",
                    "above": 0.2,
                    "cooldown": "30m",
                },
                {"name": "p", "model": "m", "metric": "performance.accuracy", "below": 0.7},
                {"name": "other", "model": "n", "metric": "drift.*.psi", "above": 0.2},
            ]
        }
    )
    values = {"drift.income.psi": 0.4, "drift.age.psi": 0.1, "performance.accuracy": 0.9}
    state = AlertState()
    firings = evaluate(rules, "m", values, NOW, state.last_fired)
    assert [f.rule.name for f in firings] == ["d"] and firings[0].values == {
        "drift.income.psi": 0.4
    }
    state.record(firings[0])
    assert evaluate(rules, "m", values, NOW + timedelta(minutes=10), state.last_fired) == []
    assert len(evaluate(rules, "m", values, NOW + timedelta(minutes=31), state.last_fired)) == 1


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(orjson.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_delivery_rollback_and_journal(tmp_path: Path, registry) -> None:
    from tests.registry.test_store import add

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for content in ("a", "b"):
            add(registry, tmp_path, name="credit-risk", content=content)
        registry.set_alias("credit-risk:1", "production")
        registry.set_alias("credit-risk:2", "production")
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        rules = parse_rules(
            {
                "rules": [
                    {
                        "name": "acc",
                        "model": "credit-risk",
                        "metric": "performance.accuracy",
                        "below": 0.7,
                        "actions": ["log", {"webhook": url}, {"rollback": "production"}],
                    }
                ]
            }
        )
        journal = AlertJournal(tmp_path / "alerts.jsonl")
        state = journal.state()
        firings = evaluate(
            rules, "credit-risk", {"performance.accuracy": 0.5}, NOW, state.last_fired
        )
        [record] = fire(firings, journal, state, registry)
        assert [o["ok"] for o in record["outcomes"]] == [True, True, True]
        assert _Hook.received[-1]["rule"] == "acc"
        assert registry.get("credit-risk@production").version == 1
        assert registry.history("credit-risk", "production")[-1].reason.startswith("alert acc")
        # dedup survives a restart: the journal rebuilds the state
        again = AlertJournal(tmp_path / "alerts.jsonl").state()
        assert (
            evaluate(rules, "credit-risk", {"performance.accuracy": 0.5}, NOW, again.last_fired)
            == []
        )
        # a dead webhook is reported, not raised
        dead = parse_rules(
            {
                "rules": [
                    {
                        "name": "x",
                        "model": "credit-risk",
                        "metric": "a",
                        "above": 0,
                        "actions": [{"webhook": "http://127.0.0.1:9/"}],
                    }
                ]
            }
        )
        [record] = fire(
            evaluate(dead, "credit-risk", {"a": 1.0}, NOW, {}), journal, state, registry
        )
        assert record["outcomes"][0]["ok"] is False and record["outcomes"][0]["error"]
    finally:
        server.shutdown()
