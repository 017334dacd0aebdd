"""The feedback check: honest labels pass (with and without input drift), poisoned ones do not.

The false-alarm rates are measured by simulation with fixed seeds: a logistic world where the
label of an input x is 1 with probability sigmoid(2x), the model predicts that probability, and
input drift moves x. Each window's rows are drawn in one vectorised call.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from modelport.monitoring.alerts import evaluate, feedback_observations, parse_rules
from modelport.monitoring.labels import LabelCheck, LabelCheckConfig, check_labels
from modelport.monitoring.monitor import run_monitor
from modelport.monitoring.profile import Profile, build_profile
from modelport.predictions import FeedbackStore, LoggedBatch, PredictionLogWriter
from modelport.predictions import new_prediction_ids as ids_at
from modelport.predictions.reader import PredictionLogReader
from modelport.presentation.html import monitor_html
from modelport.presentation.terminal import print_monitor_report
from modelport.registration import register_model
from modelport.registry import Registry
from modelport.settings import Settings

SOURCES = np.array(["key-a", "key-b", "key-c"], dtype=object)


def _training(seed: int = 0, n: int = 20_000) -> tuple[dict[str, float], dict[str, float]]:
    """The prior and the training predictions' counts of the undrifted world."""
    rng = np.random.default_rng(seed)
    p = expit(2 * rng.normal(size=n))
    labels = (rng.random(n) < p).astype(int)
    predictions = (p > 0.5).astype(int)
    return (
        {"0": float((labels == 0).sum()), "1": float((labels == 1).sum())},
        {"0": float((predictions == 0).sum()), "1": float((predictions == 1).sum())},
    )


PRIOR, REFERENCE = _training()


def _windows(
    seed: int, reps: int, n: int, shift: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``reps`` windows of ``n`` honest labels: labels, predictions, P(class 1), sources."""
    rng = np.random.default_rng(seed)
    p = expit(2 * rng.normal(shift, 1.0, size=(reps, n)))
    labels = (rng.random((reps, n)) < p).astype(int)
    return labels, (p > 0.5).astype(int), p, SOURCES[rng.integers(0, 3, size=(reps, n))]


def _check(
    labels: np.ndarray,
    predictions: np.ndarray,
    p: np.ndarray | None,
    sources: np.ndarray | None = None,
    **kwargs: Any,
) -> LabelCheck:
    proba = None if p is None else np.column_stack([1 - p, p])
    arguments: dict[str, Any] = {"prior": PRIOR, "reference_predictions": REFERENCE} | kwargs
    return check_labels(labels, predictions, [0, 1], proba=proba, sources=sources, **arguments)


def _false_alarms(seed: int, reps: int, n: int, shift: float, with_proba: bool) -> float:
    labels, predictions, p, sources = _windows(seed, reps, n, shift)
    flagged = sum(
        _check(labels[r], predictions[r], p[r] if with_proba else None, sources[r]).suspicious
        for r in range(reps)
    )
    return flagged / reps


# -- honest labels ------------------------------------------------------------------------------


@pytest.mark.parametrize("with_proba", [True, False], ids=["probabilities", "classes only"])
@pytest.mark.parametrize(
    ("n", "shift"),
    [(60, 0.0), (300, 0.0), (300, 1.0), (300, 2.0)],
    ids=["60 rows", "no drift", "input drift", "strong drift"],
)
def test_honest_labels_raise_at_most_one_false_alarm_in_a_hundred(
    n: int, shift: float, with_proba: bool
) -> None:
    # measured at these seeds: 0.0% to 0.6% (0.05% to 0.3% over 2,000 other windows each)
    seed = int(n * 10 + shift * 100 + with_proba)
    assert _false_alarms(seed, 500, n, shift, with_proba) <= 0.01


def test_honest_labels_under_input_drift_move_with_the_predictions() -> None:
    labels, predictions, _, _ = _windows(1, 1, 2000, 1.5)
    check = _check(labels[0], predictions[0], None)
    # the labels moved far from the prior, but no further than the predictions did
    assert check.label_psi is not None and check.label_psi > 0.3
    assert check.prediction_psi is not None and check.prediction_psi > check.label_psi
    assert check.status == "ok" and check.excess_psi is not None and check.excess_psi < 0.02
    assert "in line" in check.reason


def test_honest_labels_of_three_classes_under_drift_are_ok() -> None:
    rng = np.random.default_rng(5)
    centres = np.array([-1.5, 0.0, 1.5])

    def world(n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(shift, 1.2, size=n)
        logits = -((x[:, None] - centres) ** 2)
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        labels = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
        return labels, p

    train_labels, train_p = world(20_000, 0.0)
    prior = {str(c): float((train_labels == c).sum()) for c in range(3)}
    reference = {str(c): float((train_p.argmax(axis=1) == c).sum()) for c in range(3)}
    flagged = 0
    for _ in range(200):
        labels, p = world(400, 0.8)
        check = check_labels(
            labels, p.argmax(axis=1), [0, 1, 2], prior=prior, reference_predictions=reference
        )
        flagged += check.suspicious
    assert flagged <= 2


# -- poisoned labels ---------------------------------------------------------------------------


@pytest.mark.parametrize("with_proba", [True, False], ids=["probabilities", "classes only"])
def test_one_source_flipping_labels_is_named(with_proba: bool) -> None:
    labels, predictions, p, sources = _windows(2, 1, 900, 0.0)
    poisoned = (sources[0] == "key-b") & (np.random.default_rng(3).random(900) < 0.5)
    flipped = np.where(poisoned, 1 - labels[0], labels[0])
    check = _check(flipped, predictions[0], p[0] if with_proba else None, sources[0])
    assert check.status == "suspicious" and "source" in check.findings
    assert check.suspicious_sources == ["key-b"]
    assert "source key-b disagrees" in check.reason
    [flagged] = [s for s in check.sources if s.suspicious]
    assert flagged.disagreement > flagged.others + 0.2
    assert {s.source for s in check.sources} == {"key-a", "key-b", "key-c"}


def test_labels_far_from_the_prior_with_unchanged_predictions_are_flagged() -> None:
    labels, predictions, _, _ = _windows(4, 1, 600, 0.0)
    rng = np.random.default_rng(4)
    pushed = np.where(rng.random(600) < 0.4, 1, labels[0])  # 40% pushed to class 1
    check = _check(pushed, predictions[0], None)
    assert check.status == "suspicious" and check.findings == ("label_shift",)
    assert check.prediction_psi is not None and check.prediction_psi < 0.01
    assert check.label_psi is not None and check.label_psi > 0.1
    assert check.shift_p_value is not None and check.shift_p_value < 1e-6
    assert "departs from what the prior" in check.reason


def test_labels_moving_against_the_drift_are_flagged() -> None:
    # the inputs move towards class 1; the labels are pushed the other way, past the prior
    # (labels moved back towards the prior only are within what the segment tolerates)
    labels, predictions, _, _ = _windows(6, 1, 600, 1.0)
    pushed = np.where(np.random.default_rng(6).random(600) < 0.7, 0, labels[0])
    check = _check(pushed, predictions[0], None)
    assert check.status == "suspicious" and "label_shift" in check.findings


def test_accuracy_collapsing_beyond_the_probabilities_is_flagged() -> None:
    labels, predictions, p, _ = _windows(7, 1, 400, 0.0)
    flipped = np.where(np.random.default_rng(7).random(400) < 0.35, 1 - labels[0], labels[0])
    check = _check(flipped, predictions[0], p[0], prior=None, reference_predictions=None)
    assert "disagreement" in check.findings
    assert check.disagreement is not None and check.expected_disagreement is not None
    assert check.disagreement > check.expected_disagreement + 0.15


# -- what the check works with ------------------------------------------------------------------


def test_without_a_stored_prior_the_training_predictions_stand_in() -> None:
    labels, predictions, _, _ = _windows(8, 1, 300, 0.0)
    check = _check(labels[0], predictions[0], None, prior=None)
    assert check.status == "ok" and check.prior_from == "predictions"
    assert check.label_psi is None and check.prediction_psi is not None
    bare = _check(labels[0], predictions[0], None, prior=None, reference_predictions=None)
    assert bare.status == "ok" and bare.prior_from is None and bare.prior is None


def test_too_few_labels_or_no_classes_is_no_data() -> None:
    few = check_labels([0, 1] * 10, [0, 1] * 10, [0, 1])
    assert few.status == "no_data" and few.count == 20 and "needs 50" in few.reason
    assert check_labels([1.0] * 100, [1.0] * 100, []).status == "no_data"
    assert feedback_observations(few.to_dict()) == {}


def test_labels_that_are_not_classes_are_left_out_and_the_json_is_finite() -> None:
    labels, predictions, p, sources = _windows(9, 1, 200, 0.0)
    mixed = labels[0].astype(object)
    mixed[:10] = "spam"
    check = _check(mixed, predictions[0], p[0], sources[0])
    assert check.count == 190
    data = check.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert set(data) >= {"status", "reason", "findings", "sources", "suspicious_sources"}


def test_the_configuration_is_checked() -> None:
    with pytest.raises(Exception, match="alpha must be in"):
        LabelCheckConfig(alpha=2.0)
    strict = LabelCheckConfig(min_labels=500)
    labels, predictions, _, _ = _windows(10, 1, 300, 0.0)
    assert _check(labels[0], predictions[0], None, config=strict).status == "no_data"


def test_the_profile_keeps_the_training_labels_and_old_profiles_still_load() -> None:
    frame = pd.DataFrame({"x": np.arange(100.0)})
    profile = build_profile(frame, predictions=np.zeros(100, dtype=int), labels=[0, 1] * 50)
    data = profile.to_dict()
    assert data["labels"]["categories"] == {"0": 50, "1": 50}
    loaded = Profile.from_dict(data)
    assert loaded.labels is not None and loaded.labels.categories == {"0": 50, "1": 50}
    old = {k: v for k, v in data.items() if k != "labels"}
    assert Profile.from_dict(old).labels is None
    assert "labels" not in build_profile(frame).to_dict()
    with pytest.raises(Exception, match="one class per row"):
        build_profile(frame, labels=[0, 1])


# -- in the monitor and the alert rules --------------------------------------------------------

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_the_monitor_reports_poisoned_feedback_and_a_rule_fires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "tester")
    settings = Settings()
    rng = np.random.default_rng(11)
    train = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    y = (rng.random(2000) < expit(2 * train["a"])).astype(int)
    model = LogisticRegression().fit(train, y)
    registry = Registry(settings)
    try:
        register_model(registry, model, "clf", sample=train, labels=y.to_numpy())
        live = pd.DataFrame({"a": rng.normal(size=900), "b": rng.normal(size=900)})
        ts = (BASE + timedelta(minutes=5)).timestamp()
        ids = ids_at(len(live), now=ts)
        writer = PredictionLogWriter(settings.resolved_log_uri())
        writer.append(
            LoggedBatch(
                "clf",
                1,
                ids,
                live,
                ["a", "b"],
                model.predict(live),
                proba=model.predict_proba(live),
                latency_ms=[1.0] * len(live),
                ts=ts,
            )
        )
        writer.close()
        truth = (rng.random(900) < expit(2 * live["a"])).astype(int).to_numpy()
        senders = SOURCES[np.arange(900) % 3]
        truth = np.where(senders == "key-c", 1 - truth, truth)  # key-c flips every label
        store = FeedbackStore(settings.resolved_log_uri())
        records: list[dict[str, Any]] = [
            {"prediction_id": pid, "label": int(label), "source": str(source)}
            for pid, label, source in zip(ids, truth, senders, strict=True)
        ]
        records[0].pop("source")  # a line from before sources were recorded
        store.write(records)
        store.close()
        reader = PredictionLogReader(settings.resolved_log_uri())
        report = run_monitor(registry, reader, "clf", window="1h", now=BASE + timedelta(hours=1))
    finally:
        registry.close()
    [entry] = report.versions
    assert "feedback_source" not in entry.current.columns  # not mistaken for an input
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    section = data["versions"][0]["feedback_check"]
    assert section["status"] == "suspicious" and section["suspicious_sources"] == ["key-c"]
    assert section["prior_from"] == "labels" and section["count"] == 900
    values = entry.observations()
    assert values["feedback.suspicious"] == 1.0 and values["feedback.suspicious_sources"] == 1.0
    assert "feedback.label_psi" in values
    rule = {"name": "poison", "model": "clf", "metric": "feedback.suspicious", "above": 0.5}
    rules = parse_rules({"rules": [rule]})
    [fired] = evaluate(rules, "clf", values, BASE, {})
    assert fired.values == {"feedback.suspicious": 1.0}
    out = Console(file=io.StringIO(), width=200)
    print_monitor_report(report, out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "feedback suspicious" in text and "source key-c disagrees" in text
    page = monitor_html(report)
    assert "<h2>Feedback check</h2>" in page and "key-c" in page
