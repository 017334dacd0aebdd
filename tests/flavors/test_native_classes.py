"""XGBoost and LightGBM files registered through the CLI keep their classes (issue 12, item 6).

A file saved by ``XGBClassifier.save_model`` records the wrapper in its ``scikit_learn``
attribute; a LightGBM text model has its objective. Either way the registered version must
answer the labels and probabilities the original estimator does, and ``--task`` refuses a
model that does not load as what the registrant says it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import modelport
from modelport.cli import app
from modelport.model_files import read_model_file

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    return tmp_path


def _data(classes: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(150, 4)), columns=["a", "b", "c", "d"])
    score = x["a"] + 0.5 * x["b"] - 0.3 * x["c"]
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    return x, y


def _register(path: Path, name: str, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["register", str(path), "--name", name, *extra])
    return result.exit_code, result.output


def _listed() -> list[Any]:
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


def _classifier(kind: str, classes: int) -> tuple[Any, pd.DataFrame]:
    x, y = _data(classes)
    if kind == "xgboost":
        return xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(x, y), x
    return lgb.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1).fit(x, y), x


def _save(model: Any, directory: Path, file_name: str) -> Path:
    path = directory / file_name
    if hasattr(model, "booster_"):  # LightGBM: the wrapper's booster, as text
        model.booster_.save_model(path)
    else:
        model.save_model(path)
    return path


@pytest.mark.parametrize(
    ("kind", "file_name", "classes"),
    [
        ("xgboost", "model.ubj", 2),
        ("xgboost", "model.ubj", 3),
        ("xgboost", "model.xgboost.json", 3),
        ("lightgbm", "model.txt", 2),
        ("lightgbm", "model.txt", 4),
    ],
)
@pytest.mark.parametrize("with_sample", [False, True])
def test_a_classifier_file_keeps_classes_and_probabilities(
    home: Path, kind: str, file_name: str, classes: int, with_sample: bool
) -> None:
    model, x = _classifier(kind, classes)
    path = _save(model, home, file_name)
    extra: list[str] = ["--task", "classification"]
    if with_sample:
        x.to_parquet(home / "sample.parquet")
        extra += ["--sample", str(home / "sample.parquet")]
    code, out = _register(path, "m", *extra)
    assert code == 0, out
    loaded = modelport.load("m")
    assert loaded.classes == list(range(classes))
    assert loaded.predictor.task == "classification"
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), rtol=1e-6)
    if kind == "xgboost":  # the wrapper itself came back, not a bare Booster
        assert loaded.version.flavor_options["wrapper"] == "XGBClassifier"
    if with_sample:
        assert loaded.version.signature is not None
        outputs = loaded.version.signature["outputs"]
        assert outputs["kind"] == "class"
        assert outputs["classes"] == list(range(classes))
        assert outputs["has_proba"] is True


@pytest.mark.parametrize("kind", ["xgboost", "lightgbm"])
def test_a_regressor_file_stays_a_regressor(home: Path, kind: str) -> None:
    x, _ = _data(2)
    y = x["a"] * 2.0 + x["b"]
    if kind == "xgboost":
        model: Any = xgb.XGBRegressor(n_estimators=10).fit(x, y)
        path = _save(model, home, "model.ubj")
    else:
        model = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(x, y)
        path = _save(model, home, "model.txt")
    code, out = _register(path, "r", "--task", "classification")
    assert code == 1
    assert "declared a classification model" in out and "regressor" in out
    assert _listed() == []
    code, out = _register(path, "r", "--task", "regression")
    assert code == 0, out
    loaded = modelport.load("r")
    assert loaded.classes is None
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    with pytest.raises(modelport.errors.InvalidArgument, match="no class probabilities"):
        loaded.predict_proba(x)


def test_task_classification_refuses_a_booster_with_margins_only(home: Path) -> None:
    """binary:logitraw gives margins: neither labels nor probabilities can be told from it."""
    x, y = _data(2)
    booster = xgb.train({"objective": "binary:logitraw"}, xgb.DMatrix(x, label=y), 5)
    path = home / "raw.ubj"
    booster.save_model(path)
    code, out = _register(path, "raw", "--task", "classification")
    assert code == 1
    assert "neither a classifier nor a regressor" in out
    assert "hint:" in out
    assert _listed() == []
    code, out = _register(path, "raw")  # without --task it registers its raw output
    assert code == 0, out


def test_a_native_booster_file_stays_a_booster(tmp_path: Path) -> None:
    """No ``scikit_learn`` attribute (xgb.train), or one that is not JSON: the Booster itself."""
    x, y = _data(3)
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3}, xgb.DMatrix(x, label=y), 3)
    path = tmp_path / "native.ubj"
    booster.save_model(path)
    assert type(read_model_file(path)).__name__ == "Booster"
    booster.set_attr(scikit_learn="{not json")
    booster.save_model(path)
    assert type(read_model_file(path)).__name__ == "Booster"
