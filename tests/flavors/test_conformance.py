"""The conformance suite must catch broken flavors, not only pass good ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modelport.flavors.conformance import check_flavor
from modelport.flavors.sklearn import SKLEARN, SklearnPredictor


class _Broken:
    """Wraps the sklearn flavor and spoils one aspect of it."""

    name: ClassVar[str] = "broken"
    extra: ClassVar[str | None] = None

    def __init__(self, fault: str) -> None:
        self.fault = fault

    def handles(self, obj: Any) -> bool:
        return self.fault != "handles"

    def save(self, obj: Any, directory: Path, *, serialization: str | None = None) -> dict:
        options = SKLEARN.save(obj, directory, serialization=serialization)
        if self.fault == "options":
            options["path"] = directory  # a Path is not JSON
        if self.fault == "no-files":
            for path in directory.iterdir():
                path.unlink()
        return options

    def load(self, directory: Path, options: dict, *, trusted: bool) -> Any:
        predictor = SKLEARN.load(directory, options, trusted=trusted)
        assert isinstance(predictor, SklearnPredictor)
        if self.fault == "predict":
            original = predictor.predict
            predictor.predict = lambda batch: 1 - original(batch)  # type: ignore[method-assign]
        if self.fault == "length":
            predictor.predict = lambda batch: np.zeros(1)  # type: ignore[method-assign]
        if self.fault == "proba-shape":
            predictor.predict_proba = lambda batch: np.ones((len(batch), 3))  # type: ignore[method-assign]
        if self.fault == "classes":
            predictor.classes = [np.int64(0), np.int64(1)]
        return predictor


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("handles", "handles"),
        ("options", "JSON"),
        ("no-files", "wrote no files"),
        ("predict", "differs from the original"),
        ("length", "batch of 80 rows"),
        ("proba-shape", "predict_proba shape"),
        ("classes", "plain JSON"),
    ],
)
def test_broken_flavor_is_caught(fault, message, xy, tmp_path):
    x, y = xy
    with pytest.raises(AssertionError, match=message):
        check_flavor(_Broken(fault), LogisticRegression().fit(x, y), x, tmp_path)


def test_reference_needed_for_objects_without_predict(tmp_path):
    class Opaque:
        pass

    class Accepting(_Broken):
        def save(self, obj: Any, directory: Path, *, serialization: str | None = None) -> dict:
            (directory / "x").write_text("x")
            return {}

        def load(self, directory: Path, options: dict, *, trusted: bool) -> Any:
            return SklearnPredictor(LogisticRegression())

    with pytest.raises(AssertionError, match="expected_predict"):
        check_flavor(Accepting("none"), Opaque(), np.zeros((2, 2)), tmp_path)
