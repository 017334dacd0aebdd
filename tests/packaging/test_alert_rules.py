"""The shipped Prometheus alerting rules pass promtool's checks and its unit tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

import modelport
from tests.prometheus_server import binary

RULES = Path(modelport.__file__).parent / "packaging" / "prometheus" / "modelport-rules.yml"
UNIT_TESTS = Path(__file__).parent / "prometheus" / "modelport-rules.test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args], capture_output=True, text=True, timeout=120, check=False
    )


def alert_names() -> set[str]:
    doc = yaml.safe_load(RULES.read_text())
    return {rule["alert"] for group in doc["groups"] for rule in group["rules"]}


def test_the_rules_cover_errors_latency_drift_quality_restarts_and_canaries() -> None:
    assert alert_names() == {
        "ModelportHighErrorRate",
        "ModelportHighLatency",
        "ModelportWorkerRestarts",
        "ModelportDriftDetected",
        "ModelportQualityDrop",
        "ModelportCanaryRolledBack",
    }


def test_promtool_check_rules_passes() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_promtool_unit_tests_pass_and_test_every_alert() -> None:
    tested = {
        case["alertname"]
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    assert tested == alert_names()
    result = promtool("test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
