"""The pure core of batch scoring: one DataFrame in, scored rows and rejected rows out.

Both engines call :class:`Scorer` on every chunk (the local engine in its worker
processes, Spark inside ``mapInPandas``), so their outputs agree row for row.
Rows that fail validation are not an error of the job: they are split off with
the reason, and the remaining rows are scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelport.errors import DataError, ValidationError
from modelport.loaded import LoadedModel, non_finite_rows

PREDICTION = "prediction"
REASON = "_reason"


@dataclass
class ScoredChunk:
    """The outcome for one chunk: ``scored`` keeps input order; ``rejected`` has ``_reason``."""

    scored: pd.DataFrame
    rejected: pd.DataFrame


def proba_columns(classes: list[Any] | None) -> list[str]:
    """One output column per class, e.g. ``proba_0``, ``proba_1`` or ``proba_approved``."""
    return [f"proba_{c}" for c in classes or []]


class Scorer:
    """Validates and scores chunks for one loaded model.

    ``features`` are the input columns given to the model, ``keep`` the input
    columns copied to the output (ids), ``probabilities`` whether classifiers
    also write one probability column per class.
    """

    def __init__(
        self,
        model: LoadedModel,
        features: list[str],
        keep: list[str],
        *,
        probabilities: bool = True,
    ) -> None:
        self.model = model
        self.features = features
        self.keep = keep
        classes = model.classes
        self.probabilities = probabilities and classes is not None
        self.proba_columns = proba_columns(classes) if self.probabilities else []

    @property
    def output_columns(self) -> list[str]:
        return [*self.keep, PREDICTION, *self.proba_columns]

    def score(self, frame: pd.DataFrame) -> ScoredChunk:
        """Score every valid row of ``frame``; invalid rows come back with their reason."""
        frame = frame.reset_index(drop=True)
        good = np.ones(len(frame), dtype=bool)
        reasons: dict[int, list[str]] = {}
        prepared: Any = None
        for _attempt in range(len(self.features) + 2):  # each retry removes >= 1 bad field
            rows = np.flatnonzero(good)
            subset = frame.iloc[rows] if len(rows) < len(frame) else frame
            if not len(rows):
                break
            try:
                prepared = self.model.prepare(subset[self.features], extra="ignore")
                break
            except ValidationError as exc:
                for problem in exc.problems:
                    if problem.kind in ("missing", "unknown", "shape") and not problem.rows:
                        raise DataError(
                            f"the input cannot be scored: {problem.describe()}",
                            hint=exc.hint or "pass the model's features with --columns",
                        ) from exc
                    # no row indexes: every remaining row shares the problem
                    bad = rows[problem.rows] if problem.rows else rows
                    for row in bad.tolist():
                        reasons.setdefault(row, []).append(f"'{problem.field}': {problem.detail}")
                    good[bad] = False
        else:  # never valid after every retry: reject what is left rather than guess
            for row in np.flatnonzero(good).tolist():
                reasons.setdefault(row, []).append("the row could not be validated")
            good[:] = False
        rows = np.flatnonzero(good)
        scored, unanswered = self._predict(frame.iloc[rows], prepared if len(rows) else None)
        if unanswered.any():  # the model gave no finite answer for these rows: reject them
            for row in rows[unanswered].tolist():
                reasons.setdefault(row, []).append(
                    "the model's prediction is not finite (infinite or NaN) for this row"
                )
            good[rows[unanswered]] = False
            scored = scored[~unanswered]
        rejected = frame.iloc[np.flatnonzero(~good)][self._reject_columns(frame)].copy()
        rejected[REASON] = ["; ".join(reasons[i]) for i in np.flatnonzero(~good).tolist()]
        return ScoredChunk(scored.reset_index(drop=True), rejected.reset_index(drop=True))

    def _reject_columns(self, frame: pd.DataFrame) -> list[str]:
        seen = dict.fromkeys([*self.keep, *self.features])
        return [c for c in seen if c in frame.columns]

    def _predict(self, frame: pd.DataFrame, prepared: Any) -> tuple[pd.DataFrame, np.ndarray]:
        """The scored rows, and a mask of those whose outputs are not finite numbers."""
        out = pd.DataFrame({c: frame[c].to_numpy() for c in self.keep})
        if prepared is None:  # nothing valid: the right columns, no rows
            out[PREDICTION] = self._no_predictions()
            for column in self.proba_columns:
                out[column] = np.empty(0, dtype=np.float64)
            return out, np.zeros(0, dtype=bool)
        # the one way predictions leave a model (serving uses it too): one call for both
        # outputs where predict is the argmax of the probabilities
        prediction, proba = self.model.outputs(prepared, proba=self.probabilities)
        unanswered = non_finite_rows(prediction)
        if proba is not None:
            unanswered |= non_finite_rows(proba)
        out[PREDICTION] = list(prediction) if prediction.ndim > 1 else prediction
        if proba is not None and self.probabilities:
            for i, column in enumerate(self.proba_columns):
                out[column] = np.asarray(proba[:, i], dtype=np.float64)
        return out, unanswered

    def _no_predictions(self) -> Any:
        """A zero-length prediction column of the type a model call gives.

        A part with no valid rows (or an input with none) must write the same column
        types as the other parts: the parts are merged into one file, and a zero-row
        output still tells its readers what it would hold.
        """
        classes = self.model.classes
        if classes and all(isinstance(c, str) for c in classes):
            return pd.array([], dtype="string")  # an empty object column has no type at all
        if classes:
            return np.asarray(classes, dtype=_class_dtype(classes))[:0]
        outputs = self.model.signature.outputs if self.model.signature else None
        try:
            return np.empty(0, dtype=np.dtype(outputs.dtype if outputs else "float64"))
        except TypeError:  # a dtype name NumPy does not know: values are numbers
            return np.empty(0, dtype=np.float64)


def _class_dtype(classes: list[Any] | None) -> Any:
    if classes and all(isinstance(c, (bool, np.bool_)) for c in classes):
        return bool
    if classes and all(isinstance(c, (int, np.integer)) for c in classes):
        return np.int64
    if classes and all(isinstance(c, (int, float, np.number)) for c in classes):
        return np.float64
    return object
