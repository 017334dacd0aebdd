"""Checks every flavor must pass; run them on your own flavor too.

    from modelport.flavors.conformance import check_flavor

    def test_my_flavor(tmp_path):
        model = train_tiny_model()
        check_flavor(MY_FLAVOR, model, batch, tmp_path)

``check_flavor`` saves ``obj`` into an empty directory, loads it back (with the
options passed through JSON, as the registry stores them) and compares the
loaded predictor with the original object on ``batch``. The reference
predictions are ``obj.predict``/``obj.predict_proba`` when the object has them,
else ``obj(batch)``; pass ``expected_predict``/``expected_proba`` for objects
that cannot be called directly (a raw booster, an ONNX proto). Every failure is
an AssertionError saying which check failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import numpy as np

from modelport.flavors.base import Flavor, Predictor, Task


def check_flavor(
    flavor: Flavor,
    obj: Any,
    batch: Any,
    tmp_path: Path,
    *,
    expected_predict: Any = None,
    expected_proba: Any = None,
    serialization: str | None = None,
    trusted: bool = False,
) -> Predictor:
    """Run the conformance checks; return the loaded predictor for further checks."""
    name = getattr(flavor, "name", type(flavor).__name__)
    _check(flavor.handles(obj), f"{name}.handles() is False for {type(obj).__name__}")
    if expected_predict is None:
        expected_predict = _reference(obj, batch)
    if expected_proba is None and hasattr(obj, "predict_proba"):
        expected_proba = obj.predict_proba(batch)

    directory = Path(tmp_path) / f"{name}-artifact"
    directory.mkdir(parents=True, exist_ok=False)
    options = flavor.save(obj, directory, serialization=serialization)
    _check(isinstance(options, dict), f"{name}.save() returned {type(options).__name__}, not dict")
    _check(any(directory.iterdir()), f"{name}.save() wrote no files into {directory}")
    try:
        stored = json.loads(json.dumps(options))
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{name}.save() options are not JSON-serialisable: {exc}") from exc

    predictor = flavor.load(directory, stored, trusted=trusted)
    _check(isinstance(predictor, Predictor), f"{name}.load() did not return a Predictor")
    _check(predictor.task in get_args(Task), f"{name}: task {predictor.task!r} is not a known task")
    classes = predictor.classes
    if classes is not None:
        _check(isinstance(classes, list), f"{name}: classes must be a list or None")
        try:
            json.dumps(classes)
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"{name}: classes are not plain JSON values: {exc}") from exc

    n = len(batch)
    predicted = np.asarray(predictor.predict(batch))
    _check(
        predicted.ndim >= 1 and len(predicted) == n,
        f"{name}: predict returned shape {predicted.shape} for a batch of {n} rows",
    )
    _compare(name, "predict", predicted, np.asarray(expected_predict))

    proba = predictor.predict_proba(batch)
    if proba is not None:
        proba = np.asarray(proba)
        _check(len(proba) == n, f"{name}: predict_proba returned {len(proba)} rows for {n}")
        if classes is not None:
            _check(
                proba.shape == (n, len(classes)),
                f"{name}: predict_proba shape {proba.shape}, expected {(n, len(classes))}",
            )
    if expected_proba is not None:
        _check(proba is not None, f"{name}: predict_proba is None but the original has one")
        _compare(name, "predict_proba", np.asarray(proba), np.asarray(expected_proba))
    return predictor


def _reference(obj: Any, batch: Any) -> Any:
    if hasattr(obj, "predict"):
        return obj.predict(batch)
    if callable(obj):
        return obj(batch)
    raise AssertionError(
        f"cannot compute reference predictions for a {type(obj).__name__}; pass expected_predict="
    )


def _compare(name: str, what: str, got: np.ndarray, expected: np.ndarray) -> None:
    message = f"{name}: {what} after save/load differs from the original model"
    if got.shape != expected.shape:
        raise AssertionError(f"{message}: shape {got.shape} != {expected.shape}")
    if got.dtype.kind in "fc" or expected.dtype.kind in "fc":
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=message)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=message)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)
