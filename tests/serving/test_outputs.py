"""What leaves the model in serving: never a silent null, and probabilities for the log."""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import modelport
from modelport.errors import NonFinitePrediction
from modelport.loaded import load_model
from modelport.monitoring.monitor import run_monitor
from modelport.predictions.reader import PredictionLogReader
from modelport.registry import Registry
from modelport.runtime.metrics import Metrics
from modelport.runtime.pool import ServedVersion
from modelport.serving import ServeConfig, create_app
from modelport.settings import Settings


@dataclass
class World:
    settings: Settings
    X: np.ndarray
    y: np.ndarray
    ridge: Ridge
    logistic: LogisticRegression
    bayes: GaussianNB


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    settings = Settings(home=tmp_path_factory.mktemp("outputs") / "home", user="tester")
    X, y = make_classification(
        n_samples=600, n_features=4, n_informative=3, n_redundant=0, random_state=3
    )
    ridge = Ridge().fit(X, X @ np.array([3.0, -2.0, 1.0, 0.5]))
    logistic = LogisticRegression().fit(X, y)
    bayes = GaussianNB().fit(X, y)
    modelport.register(ridge, "ridge", sample=X, settings=settings)
    modelport.register(logistic, "logistic", sample=X, settings=settings)
    modelport.register(bayes, "bayes", sample=X, settings=settings)
    return World(settings, X, y, ridge, logistic, bayes)


@pytest.fixture
def logged(world: World, tmp_path: Path) -> Settings:
    """The module's registry with a prediction log of this test's own."""
    return Settings(home=world.settings.home, log_uri=str(tmp_path / "logs"), user="tester")


def serve(settings: Settings) -> TestClient:
    """An in-process server; leaving its ``with`` block shuts it down and writes the log."""
    config = ServeConfig(auth=False, refs=("ridge", "logistic", "bayes"), log_flush_interval=0.2)
    return TestClient(create_app(config, settings=settings))


def overflowing(model: Ridge) -> np.ndarray:
    """Rows whose prediction is +inf (all terms huge and of one sign) and NaN (inf - inf)."""
    huge = np.sign(model.coef_) * 1e308
    return np.vstack([huge, np.where(model.coef_ > 0, 1e308, 0.0) - np.where(huge < 0, 1e308, 0)])


def test_non_finite_prediction_is_a_422_naming_the_rows(world: World, logged: Settings) -> None:
    extreme = overflowing(world.ridge)
    rows = np.vstack([world.X[:1], extreme[:1], world.X[1:2], extreme[1:]])
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(world.ridge.predict(rows)[[1, 3]]).any()  # the premise
    v2_input = {"name": "x", "shape": [4, 4], "datatype": "FP64", "data": rows.ravel().tolist()}
    with serve(logged) as client:
        r = client.post("/v1/models/ridge:predict", json={"instances": rows.tolist()})
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "non_finite_prediction"
        assert "rows 1, 3" in body["error"] and "finite" in body["error"]

        r = client.post("/v2/models/ridge/infer", json={"inputs": [v2_input]})
        assert r.status_code == 422, r.text
        assert "rows 1, 3" in r.json()["error"]

        good = client.post("/v1/models/ridge:predict", json={"instances": world.X[:3].tolist()})
        assert good.status_code == 200
        np.testing.assert_allclose(good.json()["predictions"], world.ridge.predict(world.X[:3]))
        ids = good.json()["prediction_ids"]
    logged_rows = PredictionLogReader(logged.resolved_log_uri()).predictions("ridge")
    assert sorted(logged_rows["prediction_id"]) == sorted(ids)  # the refused ones are not logged


# as in production, where NumPy's overflow warnings are not errors (before the fix: a null)
@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_non_finite_output_fails_only_its_own_request_in_a_batch(world: World) -> None:
    registry = Registry(world.settings)
    served = ServedVersion(load_model(registry, "ridge"), ServeConfig(auth=False), Metrics())
    extreme = overflowing(world.ridge)
    sizes: list[int] = []
    served.batcher._on_batch = sizes.append

    async def main() -> list[object]:
        try:
            inputs = [world.X[:2], extreme, world.X[2:5]]
            return list(
                await asyncio.gather(
                    *(served.predict(served.prepare(x.tolist())) for x in inputs),
                    return_exceptions=True,
                )
            )
        finally:
            await served.batcher.aclose()

    first, bad, last = asyncio.run(main())
    registry.close()
    assert sizes == [3]  # one model call for all three requests
    assert isinstance(bad, NonFinitePrediction) and bad.rows == [0, 1]
    assert bad.status == 422
    assert not isinstance(first, BaseException) and not isinstance(last, BaseException)
    np.testing.assert_allclose(first[0], world.ridge.predict(world.X[:2]))
    np.testing.assert_allclose(last[0], world.ridge.predict(world.X[2:5]))


@pytest.mark.parametrize("name", ["logistic", "bayes"])  # argmax of proba, and two calls
def test_logged_predictions_carry_probabilities_unasked_and_roc_auc_is_computed(
    world: World, logged: Settings, name: str
) -> None:
    model = getattr(world, name)
    ids: list[str] = []
    with serve(logged) as client:
        for start in range(0, 120, 8):
            rows = world.X[start : start + 8]
            r = client.post(f"/v1/models/{name}:predict", json={"instances": rows.tolist()})
            assert r.status_code == 200, r.text
            body = r.json()
            assert "probabilities" not in body  # not asked, not answered
            assert body["predictions"] == model.predict(rows).tolist()
            ids += body["prediction_ids"]
        feedback = [
            {"prediction_id": pid, "label": int(label)}
            for pid, label in zip(ids, world.y[:120], strict=True)
        ]
        assert client.post("/api/feedback", json=feedback).status_code == 200

    reader = PredictionLogReader(logged.resolved_log_uri())
    frame = reader.predictions(name).set_index("prediction_id").loc[ids]
    assert frame["proba"].notna().all()
    np.testing.assert_allclose(
        np.stack(frame["proba"].to_numpy()), model.predict_proba(world.X[:120])
    )
    registry = Registry(logged)
    report = run_monitor(registry, reader, name).version(1).to_dict()
    registry.close()
    metrics = report["performance"]["metrics"]
    assert metrics["roc_auc"] is not None and 0.5 < metrics["roc_auc"] <= 1.0
    assert not any("ROC AUC" in note for note in report["notes"])


def test_a_label_picked_from_nan_is_refused_even_unlogged_and_unasked(world: World) -> None:
    registry = Registry(world.settings)
    served = ServedVersion(load_model(registry, "logistic"), ServeConfig(auth=False), Metrics())
    assert served.log_writer is None
    coef = world.logistic.coef_[0]
    up, down = int(np.argmax(coef)), int(np.argmin(coef))
    assert coef[up] > 2 and coef[down] < -2
    # one term +inf and one -inf: a NaN decision, whose predict() would still name a class
    nan_row = [0.0] * 4
    nan_row[up] = nan_row[down] = 1e308

    async def main() -> tuple[object, object]:
        try:
            bad, good = await asyncio.gather(
                served.predict(served.prepare([world.X[0].tolist(), nan_row])),
                served.predict(served.prepare(world.X[:3].tolist())),
                return_exceptions=True,
            )
            return bad, good
        finally:
            await served.batcher.aclose()

    bad, good = asyncio.run(main())
    registry.close()
    assert isinstance(bad, NonFinitePrediction) and bad.rows == [1], bad
    assert not isinstance(good, BaseException)
    assert good[0].tolist() == world.logistic.predict(world.X[:3]).tolist()
    assert good[1] is None  # probabilities were not asked for
