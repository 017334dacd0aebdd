"""Parity: does an optimized model predict what the original predicts, row by row?

Classifiers are compared on their labels (the share of rows whose label changed) and on
their probabilities (the largest absolute difference); regressors on their outputs, the
difference taken relative to the scale of the reference outputs, so that one tolerance
fits a target in the millions and one in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelport.errors import InvalidArgument

#: how many differing rows a report names
SHOWN_ROWS = 20


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far a candidate may be from the original and still count as the same model.

    The default is strict: no label may change, and outputs may differ only by what
    float32 arithmetic produces. ONNX graphs compute in float32 where scikit-learn uses
    float64; measured on the sample rows of RandomForest, LogisticRegression and
    GradientBoosting conversions (tests/optimization/test_parity.py) the probabilities
    differ by at most ~1e-6 (float32 has ~7 significant digits; a sum of a few hundred
    tree leaves loses one or two). 1e-4 leaves two orders of magnitude for larger
    ensembles while still catching any real change (a perturbed weight moves
    probabilities by 1e-2). For regressors the bound is relative: 1e-4 of the largest
    absolute reference output (at least 1).
    """

    max_abs_diff: float = 1e-4
    #: share of rows (0..1) whose label may change
    max_label_changes: float = 0.0

    def __post_init__(self) -> None:
        if not self.max_abs_diff >= 0 or not 0 <= self.max_label_changes <= 1:
            raise InvalidArgument(
                f"invalid tolerance {self.max_abs_diff}, {self.max_label_changes}",
                hint="max_abs_diff must be >= 0, max_label_changes a share between 0 and 1",
            )

    def to_dict(self) -> dict[str, float]:
        return {"max_abs_diff": self.max_abs_diff, "max_label_changes": self.max_label_changes}


@dataclass(frozen=True, slots=True)
class Outputs:
    """What a model returned for a batch: one prediction per row, probabilities if any."""

    predictions: np.ndarray
    probabilities: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class ParityReport:
    rows: int
    #: largest absolute difference of probabilities (classifiers) or outputs (regressors)
    max_abs_diff: float
    #: share of rows whose label changed (0 for regressors)
    label_changes: float
    #: the first SHOWN_ROWS rows (positions in the compared batch) that differ past tolerance
    differing_rows: list[int]
    passed: bool
    tolerance: Tolerance = field(default_factory=Tolerance)
    #: what max_abs_diff is compared with: tolerance.max_abs_diff times this scale
    scale: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "max_abs_diff": self.max_abs_diff,
            "label_changes": self.label_changes,
            "differing_rows": list(self.differing_rows),
            "passed": self.passed,
            "tolerance": self.tolerance.to_dict(),
            "scale": self.scale,
        }


def compare(reference: Outputs, candidate: Outputs, tolerance: Tolerance) -> ParityReport:
    """Row-by-row comparison of ``candidate`` with ``reference`` on the same batch."""
    expected = np.asarray(reference.predictions)
    got = np.asarray(candidate.predictions)
    if len(expected) != len(got):
        raise InvalidArgument(
            f"the candidate gave {len(got)} predictions for {len(expected)} reference rows",
            hint="compare outputs of the same batch",
        )
    rows = len(expected)
    classifier = reference.probabilities is not None or expected.dtype.kind not in "fc"
    scale = 1.0
    if classifier:
        changed = _labels_differ(expected, got)
        diff = _row_diff(reference.probabilities, candidate.probabilities, rows)
    else:
        changed = np.zeros(rows, dtype=bool)
        diff = _row_diff(expected, got, rows)
        finite = np.abs(expected[np.isfinite(expected)]) if rows else np.zeros(0)
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
    bound = tolerance.max_abs_diff * scale
    differing = np.flatnonzero(changed | ~(diff <= bound))
    max_diff = float(np.max(diff)) if rows else 0.0
    share = float(changed.mean()) if rows else 0.0
    passed = share <= tolerance.max_label_changes and bool(np.all(diff <= bound))
    return ParityReport(
        rows=rows,
        max_abs_diff=max_diff,
        label_changes=share,
        differing_rows=[int(i) for i in differing[:SHOWN_ROWS]],
        passed=passed,
        tolerance=tolerance,
        scale=scale,
    )


def outputs_of(model: Any, inputs: Any) -> Outputs:
    """Predictions and probabilities of a LoadedModel (on prepared input) or a Predictor."""
    produce = getattr(model, "outputs", None)
    if callable(produce):
        predictions, proba = produce(inputs, proba=True)
        return Outputs(np.asarray(predictions), None if proba is None else np.asarray(proba))
    predictions = np.asarray(model.predict(inputs))
    # asked whatever ``classes`` says: a graph may know it classifies without its labels
    proba = model.predict_proba(inputs)
    return Outputs(predictions, None if proba is None else np.asarray(proba))


def _labels_differ(expected: np.ndarray, got: np.ndarray) -> np.ndarray:
    # labels may come back as another dtype (int64 from ONNX for int32 classes, str for
    # object): compare values, not representations
    if expected.dtype.kind in "iub" and got.dtype.kind in "iubf":
        return np.asarray(expected.astype(np.float64) != got.astype(np.float64))
    return np.array([str(a) != str(b) for a, b in zip(expected, got, strict=True)], dtype=bool)


def _row_diff(expected: np.ndarray | None, got: np.ndarray | None, rows: int) -> np.ndarray:
    """The largest absolute difference per row; inf where one side has nothing to compare."""
    if expected is None and got is None:
        return np.zeros(rows)
    if expected is None or got is None:
        return np.full(rows, np.inf)
    a = np.asarray(expected, dtype=np.float64).reshape(rows, -1)
    b = np.asarray(got, dtype=np.float64).reshape(rows, -1)
    if a.shape != b.shape:
        return np.full(rows, np.inf)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - b)
    # NaN on both sides is the same output; NaN on one side is a difference
    both_nan = np.isnan(a) & np.isnan(b)
    diff = np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
    return np.asarray(diff.max(axis=1)) if diff.shape[1] else np.zeros(rows)
