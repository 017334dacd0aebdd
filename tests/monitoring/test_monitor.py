"""The monitoring service over a real prediction log of registered models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

import modelport
from modelport.demo.data import FEATURES, credit_data
from modelport.demo.training import train_logistic
from modelport.errors import AliasNotFound, DataError, InvalidArgument, ModelNotFound
from modelport.monitoring.alerts import evaluate, parse_rules
from modelport.monitoring.durations import parse_time
from modelport.monitoring.monitor import run_monitor
from modelport.monitoring.results import MonitorReport, VersionMonitor
from modelport.predictions import FeedbackStore, LoggedBatch, PredictionLogWriter
from modelport.predictions import new_prediction_ids as ids_at
from modelport.predictions.reader import PredictionLogReader
from modelport.registry import Registry
from modelport.settings import Settings

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOURS = 3
PER_HOUR = 600


def log_traffic(
    settings: Settings,
    model: Any,
    name: str,
    version: int,
    data: pd.DataFrame,
    *,
    label_every: int = 2,
    proba: bool = True,
    features: list[str] = FEATURES,
    target: str = "default",
) -> dict[str, Any]:
    """Log ``data`` as predictions spread over HOURS hourly batches; feedback for some rows."""
    writer = PredictionLogWriter(settings.resolved_log_uri())
    truth: dict[str, Any] = {}
    per_hour = len(data) // HOURS
    for hour in range(HOURS):
        part = data.iloc[hour * per_hour : (hour + 1) * per_hour].reset_index(drop=True)
        ts = (BASE + timedelta(hours=hour, minutes=5)).timestamp()
        ids = ids_at(len(part), now=ts)
        inputs = part[features]
        writer.append(
            LoggedBatch(
                name,
                version,
                ids,
                inputs,
                features,
                model.predict(inputs),
                proba=model.predict_proba(inputs) if proba else None,
                latency_ms=[float(i % 10) for i in range(len(part))],
                ts=ts,
                deployment="prod",
            )
        )
        for i, pid in enumerate(ids):
            if i % label_every == 0:
                truth[pid] = part[target].iloc[i].item()
    writer.close()
    store = FeedbackStore(settings.resolved_log_uri())
    store.write([{"prediction_id": k, "label": v} for k, v in truth.items()])
    store.close()
    return truth


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = Settings(home=tmp_path_factory.mktemp("monitor") / "home", user="tester")
    data = credit_data(5000, seed=11)
    trained = train_logistic(data.iloc[:4000], data.iloc[4000:])
    sample = data.iloc[:4000][FEATURES]
    for _ in range(2):
        modelport.register(trained.model, "credit", sample=sample, settings=settings)
    registry = Registry(settings)
    same = credit_data(HOURS * PER_HOUR, seed=12)
    shifted = credit_data(HOURS * PER_HOUR, seed=13, shift=True)
    truth = log_traffic(settings, trained.model, "credit", 1, same)
    log_traffic(settings, trained.model, "credit", 2, shifted)
    yield {
        "settings": settings,
        "registry": registry,
        "reader": PredictionLogReader(settings.resolved_log_uri()),
        "model": trained.model,
        "same": same,
        "truth": truth,
    }
    registry.close()


def monitor(world: dict[str, Any], target: str, **kwargs: Any) -> MonitorReport:
    return run_monitor(world["registry"], world["reader"], target, **kwargs)


def test_same_distribution_traffic_does_not_drift(world: dict[str, Any]) -> None:
    report = monitor(world, "credit:1")
    (entry,) = report.versions
    assert entry.version == 1 and entry.drift is not None
    assert not entry.drift.drift and entry.drift.drifted_features == []
    assert entry.drift.predictions is not None and not entry.drift.predictions.drift
    assert not report.drift
    assert [w["drift"] for w in entry.drift_over_time] == [False] * HOURS


def test_shifted_traffic_drifts_on_the_shifted_features(world: dict[str, Any]) -> None:
    entry = monitor(world, "credit:2").versions[0]
    assert entry.drift is not None and entry.drift.drift
    assert {"annual_income", "purpose", "employment_years"} <= set(entry.drift.drifted_features)
    assert entry.drift.features["purpose"].unseen_categories == ("crypto",)
    assert entry.drift.features["employment_years"].missing_drift
    assert entry.drift.features["annual_income"].distribution_drift
    assert all(w["drift"] for w in entry.drift_over_time)
    assert all(w["features"]["annual_income"]["drift"] for w in entry.drift_over_time)


def test_a_model_name_covers_every_version_against_its_own_profile(
    world: dict[str, Any],
) -> None:
    report = monitor(world, "credit")
    assert [v.version for v in report.versions] == [1, 2]
    assert report.drift
    assert [v.drift.drift for v in report.versions if v.drift] == [False, True]
    assert report.version(2).traffic["count"] == HOURS * PER_HOUR
    with pytest.raises(Exception, match="not in this report"):
        report.version(7)


def test_performance_from_feedback_matches_sklearn_on_the_same_rows(
    world: dict[str, Any],
) -> None:
    entry = monitor(world, "credit:1").versions[0]
    same, model, truth = world["same"], world["model"], world["truth"]
    rows = world["reader"].predictions("credit", version=1, with_feedback=True)
    labelled = rows[rows["label"].notna()]
    assert set(labelled["prediction_id"]) == set(truth)
    inputs = labelled[FEATURES].reset_index(drop=True)
    y = np.array([truth[p] for p in labelled["prediction_id"]])
    proba = model.predict_proba(inputs)
    pred = model.predict(inputs)
    metrics = entry.performance["metrics"]
    assert entry.performance["labelled"] == len(truth) == len(same) // 2
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
    assert metrics["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(y, proba), rel=1e-6)
    assert entry.task == "classification" and entry.classes == [0, 1]
    # per window: the rows of that hour
    series = entry.performance_over_time
    assert [w["count"] for w in series] == [PER_HOUR // 2] * HOURS
    hour = labelled["ts"].dt.floor("1h") == pd.Timestamp(BASE)
    first = hour.to_numpy()
    assert series[0]["accuracy"] == pytest.approx(skm.accuracy_score(y[first], pred[first]))
    assert series[0]["start"] == BASE.isoformat()


def test_window_series_traffic_and_latency(world: dict[str, Any]) -> None:
    entry = monitor(world, "credit:1").versions[0]
    assert [w["start"] for w in entry.traffic_over_time] == [
        (BASE + timedelta(hours=h)).isoformat() for h in range(HOURS)
    ]
    assert [w["count"] for w in entry.traffic_over_time] == [PER_HOUR] * HOURS
    assert [w["labelled"] for w in entry.traffic_over_time] == [PER_HOUR // 2] * HOURS
    latency = entry.traffic["latency_ms"]
    assert latency["p50"] == pytest.approx(np.percentile([i % 10 for i in range(PER_HOUR)], 50))
    assert latency["max"] == 9.0
    assert entry.traffic["label_rate"] == 0.5 and entry.traffic["deployments"] == {"prod": 1800}
    two = monitor(world, "credit:1", window="2h").versions[0]
    # windows are aligned on the epoch: 08:00-10:00 holds 09:05, 10:00-12:00 the rest
    assert [w["count"] for w in two.drift_over_time] == [PER_HOUR, 2 * PER_HOUR]
    # since/until select the period (until is exclusive)
    middle = monitor(
        world, "credit:1", since=BASE + timedelta(hours=1), until=BASE + timedelta(hours=2)
    )
    assert middle.versions[0].traffic["count"] == PER_HOUR
    iso = monitor(world, "credit:1", since="2026-01-05T10:00", until="2026-01-05 11:00")
    assert iso.versions[0].traffic["count"] == PER_HOUR


def test_json_is_finite_documented_and_round_trips(world: dict[str, Any]) -> None:
    data = monitor(world, "credit").to_dict()
    text = json.dumps(data, allow_nan=False)  # raises on NaN or infinity
    assert json.loads(text) == data
    assert set(data) == {
        "model",
        "target",
        "window",
        "window_seconds",
        "since",
        "until",
        "generated_at",
        "drift",
        "versions",
    }
    version = data["versions"][1]
    assert set(version) == {
        "version",
        "ref",
        "aliases",
        "task",
        "classes",
        "notes",
        "traffic",
        "drift",
        "drift_over_time",
        "performance",
        "performance_over_time",
        "traffic_over_time",
        "feedback_check",
    }
    assert version["drift"]["features"]["purpose"]["unseen_categories"] == ["crypto"]
    assert data["window_seconds"] == 3600 and data["drift"] is True


def test_observations_feed_the_alert_rules(world: dict[str, Any]) -> None:
    rules = parse_rules(
        {
            "rules": [
                {
                    "name": "income",
                    "model": "credit",
                    "metric": "drift.annual_income.psi",
                    "above": 0.2,
                },
                {"name": "auc", "model": "credit", "metric": "performance.roc_auc", "below": 0.99},
                {
                    "name": "slow",
                    "model": "credit",
                    "metric": "traffic.latency_ms.p95",
                    "above": 100,
                },
            ]
        }
    )
    values = monitor(world, "credit").observations()
    assert set(values) == {1, 2}
    assert values[2]["traffic.count"] == HOURS * PER_HOUR and values[2]["drift.detected"] == 1
    now = datetime.now(UTC)
    fired = {
        v: [f.rule.name for f in evaluate(rules, "credit", values[v], now, {})] for v in values
    }
    assert fired == {1: ["auc"], 2: ["income", "auc"]}


def test_no_traffic_unknown_models_and_bad_arguments(world: dict[str, Any]) -> None:
    with pytest.raises(DataError, match="no predictions of credit:1") as info:
        monitor(world, "credit:1", since=BASE + timedelta(days=30))
    assert "modelport serve" in (info.value.hint or "")
    with pytest.raises(ModelNotFound):
        monitor(world, "nope")
    with pytest.raises(AliasNotFound):
        monitor(world, "credit@staging")
    with pytest.raises(InvalidArgument, match="duration"):
        monitor(world, "credit", window="often")
    with pytest.raises(InvalidArgument, match="windows"):
        monitor(world, "credit", window="1s")
    with pytest.raises(InvalidArgument, match="before"):
        monitor(world, "credit", since=BASE, until=BASE)
    now = datetime(2026, 2, 1, tzinfo=UTC)
    assert parse_time("24h", now) == now - timedelta(hours=24)
    assert parse_time("2026-01-05", now) == datetime(2026, 1, 5, tzinfo=UTC)
    with pytest.raises(InvalidArgument):
        parse_time("yesterday-ish", now)


def test_regressor_without_proba_and_version_without_profile(settings: Settings) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=900), "z": rng.normal(size=900)})
    frame["y"] = 2 * frame["x"] - frame["z"] + rng.normal(scale=0.1, size=900)
    model = LinearRegression().fit(frame[["x", "z"]], frame["y"])
    modelport.register(model, "price", sample=frame[["x", "z"]], settings=settings)
    modelport.register(model, "price", settings=settings)  # no sample: no profile
    for version in (1, 2):
        log_traffic(
            settings,
            model,
            "price",
            version,
            frame,
            proba=False,
            features=["x", "z"],
            target="y",
            label_every=3,
        )
    registry = Registry(settings)
    try:
        reader = PredictionLogReader(settings.resolved_log_uri())
        assert "proba" not in reader.predictions("price").columns
        report = run_monitor(registry, reader, "price")
    finally:
        registry.close()
    first, second = report.versions
    assert first.task == "regression" and first.drift is not None and not first.drift.drift
    rows = reader.predictions("price", version=1, with_feedback=True)
    labelled = rows[rows["label"].notna()]
    y = labelled["label"].map(json.loads).to_numpy(dtype=float)
    pred = labelled["prediction"].to_numpy(dtype=float)
    assert first.performance["metrics"]["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert first.performance["metrics"]["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert second.drift is None and second.drift_over_time == []
    assert any("no reference profile" in n for n in second.notes)
    assert second.performance is not None
    json.dumps(report.to_dict(), allow_nan=False)


def test_reader_returns_proba_for_classifiers(world: dict[str, Any]) -> None:
    rows = world["reader"].predictions("credit", version=1)
    assert "proba" in rows.columns
    first = np.asarray(rows["proba"].iloc[0])
    assert first.shape == (2,) and first.sum() == pytest.approx(1.0)
    assert str(rows["ts"].dt.tz) in ("UTC", "Etc/UTC")


def _labelled_classifier(
    settings: Settings, *, proba_rows: int, labels: list[Any]
) -> tuple[Registry, PredictionLogReader]:
    """A 0/1 classifier with 200 logged predictions (the first ``proba_rows`` with
    probabilities) and feedback ``labels`` for the first len(labels) of them."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    clf = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    modelport.register(clf, "clf", sample=X, settings=settings)
    ids = ids_at(200, now=BASE.timestamp())
    writer = PredictionLogWriter(settings.resolved_log_uri())
    for part, with_proba in ((slice(0, proba_rows), True), (slice(proba_rows, 200), False)):
        rows = X.iloc[part]
        if rows.empty:
            continue
        writer.append(
            LoggedBatch(
                "clf",
                1,
                ids[part],
                rows,
                ["a", "b"],
                clf.predict(rows),
                proba=clf.predict_proba(rows) if with_proba else None,
                ts=BASE.timestamp(),
            )
        )
    writer.close()
    store = FeedbackStore(settings.resolved_log_uri())
    # written straight to the store: labels from before feedback was checked at the door
    store.write([{"prediction_id": i, "label": v} for i, v in zip(ids, labels, strict=False)])
    store.close()
    return Registry(settings), PredictionLogReader(settings.resolved_log_uri())


def _monitored(settings: Settings, proba_rows: int, labels: list[Any]) -> VersionMonitor:
    """The monitor's entry for the labelled classifier over one day."""
    registry, reader = _labelled_classifier(settings, proba_rows=proba_rows, labels=labels)
    try:
        return run_monitor(registry, reader, "clf:1", window="1d").versions[0]
    finally:
        registry.close()


def test_one_impossible_stored_label_does_not_hide_the_good_ones(settings: Settings) -> None:
    labels = [i % 2 for i in range(100)]
    labels[5], labels[6] = "banana", "yes"
    entry = _monitored(settings, proba_rows=200, labels=labels)
    assert entry.performance is not None and entry.performance["labelled"] == 98
    assert entry.performance["metrics"]["accuracy"] is not None
    assert entry.performance_over_time[0]["count"] == 98
    assert entry.traffic["labelled"] == 98
    (note,) = [n for n in entry.notes if "feedback label" in n]
    assert "2 feedback label(s)" in note and "'banana'" in note and "[0, 1]" in note
    assert not any("could not be computed" in n for n in entry.notes)


def test_roc_auc_says_why_it_is_missing_or_partial(settings: Settings) -> None:
    labels = [i % 2 for i in range(100)]
    entry = _monitored(settings, proba_rows=0, labels=labels)
    assert entry.performance is not None
    assert entry.performance["metrics"]["roc_auc"] is None
    assert any("ROC AUC" in n and "none were logged" in n for n in entry.notes)
    from modelport.presentation.html import monitor_html

    report = MonitorReport(
        "clf", "clf:1", "1d", 86400.0, None, None, BASE, [entry]
    )  # the HTML report shows the note too
    assert "none were logged" in monitor_html(report)


def test_roc_auc_from_the_rows_that_logged_probabilities(settings: Settings) -> None:
    labels = [i % 2 for i in range(100)]
    entry = _monitored(settings, proba_rows=60, labels=labels)
    assert entry.performance is not None and entry.performance["labelled"] == 100
    assert entry.performance["metrics"]["roc_auc"] is not None
    assert entry.performance_over_time[0]["roc_auc"] is not None
    assert any("the 60 of 100 labelled predictions" in n for n in entry.notes)


def test_windows_need_a_unit_and_rules_too() -> None:
    from modelport.errors import ConfigurationError
    from modelport.monitoring.durations import parse_window

    with pytest.raises(InvalidArgument, match="no unit"):
        parse_window("5")
    with pytest.raises(InvalidArgument, match="shorter than a second"):
        parse_window("5us")
    assert parse_window("15min") == pd.Timedelta(minutes=15)
    with pytest.raises(ConfigurationError, match="no unit"):
        parse_rules(
            {
                "rules": [
                    {"name": "r", "model": "m", "metric": "traffic.count", "above": 1, "window": 5}
                ]
            }
        )
    (rule,) = parse_rules(
        {
            "rules": [
                {"name": "r", "model": "m", "metric": "traffic.count", "above": 1, "cooldown": "0s"}
            ]
        }
    )
    assert rule.cooldown == timedelta(0)
