"""``modelport drift``, ``monitor`` and ``feedback`` as a user types them."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import modelport
from modelport.cli.monitor import attach
from modelport.demo.data import credit_data
from modelport.errors import DataError, InvalidArgument, ModelNotFound
from modelport.predictions import LoggedBatch, PredictionLogWriter, new_prediction_ids
from modelport.predictions.reader import PredictionLogReader
from modelport.settings import Settings

app = typer.Typer()
attach(app)
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_USER", "cli-user")
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


@pytest.fixture
def logged(home: Path) -> list[str]:
    """Model 'm' (two features) with 400 logged predictions over two hours; their ids."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    y = (X["a"] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    modelport.register(model, "m", sample=X, settings=Settings())
    writer = PredictionLogWriter(Settings().resolved_log_uri())
    now = time.time()
    ids: list[str] = []
    for hour, part in enumerate((X.iloc[:200], X.iloc[200:])):
        ts = now - 7200 + hour * 3600
        batch_ids = new_prediction_ids(len(part), now=ts)
        ids += batch_ids
        writer.append(
            LoggedBatch(
                "m",
                1,
                batch_ids,
                part,
                ["a", "b"],
                model.predict(part),
                proba=model.predict_proba(part),
                latency_ms=2.0,
                ts=ts,
            )
        )
    writer.close()
    return ids


def test_drift_table_json_and_html(home: Path) -> None:
    reference, current = home / "ref.parquet", home / "cur.csv"
    credit_data(3000, seed=1).to_parquet(reference)
    credit_data(3000, seed=2, shift=True).to_csv(current, index=False)
    code, out = run("drift", str(reference), str(current))
    assert code == 0, out
    assert "drift detected" in out and "annual_income" in out and "+1 new" in out
    code, out = run("drift", str(reference), str(current), "--json", "--categorical", "term_months")
    data = json.loads(out)
    assert code == 0 and data["drift"] is True and data["method"] == "exact"
    assert {"annual_income", "purpose", "employment_years"} <= set(data["drifted_features"])
    assert data["features"]["term_months"]["kind"] == "categorical"
    page = home / "out" / "drift.html"
    code, out = run("drift", str(reference), str(reference), "--html", str(page))
    assert code == 0 and "no drift" in out  # no drift is exit code 0 too
    assert "data:image/png;base64," in page.read_text()
    with pytest.raises(DataError, match="no such file"):
        run("drift", str(home / "missing.parquet"), str(current))


def test_monitor_prints_tables_json_and_html(logged: list[str], home: Path) -> None:
    code, out = run("monitor", "m", "--window", "1h")
    assert code == 0, out
    assert "m:1" in out and "Traffic" in out and "no drift" in out
    assert "no feedback" in out  # the note says how to get performance
    code, out = run("monitor", "m:1", "--since", "3h", "--json")
    data = json.loads(out)
    assert data["versions"][0]["traffic"]["count"] == 400
    assert len(data["versions"][0]["drift_over_time"]) == 2
    page = home / "monitor.html"
    code, out = run("monitor", "m", "--html", str(page))
    assert code == 0 and page.read_text().count("data:image/png;base64,") >= 4
    with pytest.raises(ModelNotFound):
        run("monitor", "nope")
    with pytest.raises(DataError, match="no predictions"):
        run("monitor", "m", "--until", "2000-01-01")


def test_feedback_then_performance_then_alerts(logged: list[str], home: Path) -> None:
    rows = [{"prediction_id": pid, "label": i % 2} for i, pid in enumerate(logged[:100])]
    rows.append({"prediction_id": "0" * 32, "label": 1})  # unknown id
    rows.append({"prediction_id": logged[100], "label": None})  # invalid: no label value
    feedback = home / "labels.csv"
    pd.DataFrame(rows).to_csv(feedback, index=False)
    code, out = run("feedback", str(feedback))
    # one bad row: nothing stored, the row named (a missing label is not "not finite")
    assert code == 1 and "nothing was stored" in out and "label is null" in out, out
    assert PredictionLogReader(Settings().resolved_log_uri()).feedback().empty
    pd.DataFrame(rows[:-1]).to_csv(feedback, index=False)
    code, out = run("feedback", str(feedback))
    assert code == 0, out
    assert "accepted 100" in out and "unknown 1" in out
    assert "0" * 32 in out
    lines = home / "labels.jsonl"
    lines.write_text(
        "\n".join(json.dumps({**r, "note": "x"}) for r in [*rows[:10], rows[100]]) + "\n"
    )
    code, out = run("feedback", str(lines), "--json")
    data = json.loads(out)
    assert data["accepted"] == 10 and data["unknown_ids"] == ["0" * 32] and data["invalid"] == []

    code, out = run("monitor", "m:1", "--json")
    performance = json.loads(out)["versions"][0]["performance"]
    assert performance["labelled"] == 100 and performance["metrics"]["accuracy"] is not None

    rules = home / "alerts.yaml"
    rules.write_text(
        "rules:\n"
        "  - {name: busy, model: m, metric: traffic.count, above: 10, window: 1d}\n"
        "  - {name: calm, model: m, metric: drift.detected, above: 0.5}\n"
    )
    code, out = run("monitor", "m", "--rules", str(rules))
    assert code == 0, out
    assert "Alerts fired" in out and "busy" in out and "calm" not in out.split("Alerts fired")[1]
    journal = home / "home" / "alerts.jsonl"
    assert [json.loads(line)["rule"] for line in journal.read_text().splitlines()] == ["busy"]
    code, out = run("monitor", "m", "--rules", str(rules))  # within the cooldown
    assert "no alert fired" in out


def test_feedback_refuses_labels_the_model_cannot_predict(logged: list[str], home: Path) -> None:
    """yes/no for a 0/1 classifier: every bad row listed, nothing stored, exit code 1."""
    path = home / "yes_no.csv"
    labels = ["yes", "no", 1, "1", True]
    pd.DataFrame({"prediction_id": logged[:5], "label": labels}).to_csv(path, index=False)
    code, out = run("feedback", str(path), "--json")
    data = json.loads(out)
    assert code == 1 and data["accepted"] == 0 and data["error"] == "invalid_feedback"
    # a CSV column of mixed values is text: only a cell that reads as a class would pass
    assert [p["index"] for p in data["invalid"]] == [0, 1, 2, 3, 4]
    assert "not a class of the model" in data["invalid"][0]["problem"]
    assert "m:1" in data["invalid"][0]["problem"]
    assert PredictionLogReader(Settings().resolved_log_uri()).feedback().empty
    lines = home / "mixed.jsonl"
    lines.write_text(
        "\n".join(
            json.dumps({"prediction_id": pid, "label": label})
            for pid, label in zip(logged[:4], [1, 0, "banana", True], strict=True)
        )
    )
    code, out = run("feedback", str(lines), "--json")
    data = json.loads(out)
    assert code == 1 and [p["index"] for p in data["invalid"]] == [2, 3]
    assert PredictionLogReader(Settings().resolved_log_uri()).feedback().empty


def test_monitor_refuses_windows_without_a_unit_or_too_many(logged: list[str], home: Path) -> None:
    with pytest.raises(InvalidArgument, match="'5' has no unit"):
        run("monitor", "m", "--window", "5")
    with pytest.raises(InvalidArgument, match="windows") as info:
        run("monitor", "m", "--window", "1s")  # 7,201 windows over two hours
    assert "--window" in (info.value.hint or "") and "--since" in (info.value.hint or "")


def test_monitor_help_names_the_home_directory() -> None:
    from modelport.cli import app as real_app  # its markdown help once ate "<home>"

    result = runner.invoke(real_app, ["monitor", "--help"])
    assert "alerts.jsonl in the modelport home" in " ".join(result.output.split())


def test_monitor_of_huge_values_warns_nothing(home: Path) -> None:
    """Inputs of 1e308 beside ordinary ones: the report, tables and plots without a warning."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    modelport.register(model, "huge", sample=X, settings=Settings())
    current = X.copy()
    current.loc[:20, "a"] = 1e308
    current.loc[21:40, "b"] = -1e308
    with PredictionLogWriter(Settings().resolved_log_uri()) as writer:
        writer.append(
            LoggedBatch("huge", 1, new_prediction_ids(300), current, ["a", "b"], model.predict(X))
        )
    page = home / "huge.html"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out = run("monitor", "huge", "--html", str(page))
    assert code == 0, out
    assert "data:image/png;base64," in page.read_text()


def test_feedback_file_without_the_columns_is_an_error(home: Path) -> None:
    path = home / "bad.csv"
    pd.DataFrame({"id": ["x"], "y": [1]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="prediction_id"):
        run("feedback", str(path))


def test_every_command_has_an_example() -> None:
    for command in ("drift", "monitor", "feedback"):
        code, out = run(command, "--help")
        assert code == 0 and "Example:" in out
