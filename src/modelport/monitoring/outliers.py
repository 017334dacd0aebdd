"""Out-of-distribution scores per row, from a version's reference profile.

An :class:`OutlierScorer` is built once per served version (:meth:`OutlierScorer.from_profile`)
and scores whole batches (:meth:`OutlierScorer.score`), vectorised over the rows. Each
feature of a row is, compared with the training sample the profile summarises:

* **out of range**: a number below the training minimum or above its maximum;
* **unseen**: a category that never occurred in training (decided only when the profile
  kept every category: with more than 1,000 of them the rest are counted, not named);
* **extreme**: a number inside the training range but beyond its 0.1% or 99.9% quantile.
  The profile knows the empirical CDF at every 1% (:mod:`.profile`), so these quantiles
  are interpolated linearly between the CDF points around them; where the outermost bin
  holds a single repeated value (a 0/1 feature) with more than 0.1% of the mass, the
  quantile is that value, so the common value of a binary feature is never extreme.

The score of a row is ``(out of range + unseen + extreme / 2) / features scored``, in
[0, 1]: the share of its features that training never saw there, counting a value in the
extreme tail as half. A missing value (NaN, None) is never out of distribution: the
signature decides whether it is allowed. Features the profile does not know are not
scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelport.errors import FieldProblem
from modelport.monitoring._columns import category_key, float_values
from modelport.monitoring.profile import CategoricalProfile, NumericProfile, Profile

#: the tail quantiles beyond which a value in the training range is extreme
TAIL = 0.001
#: the weight of an extreme feature in the score (out of range and unseen weigh 1)
EXTREME_WEIGHT = 0.5

#: per feature of a row: what the scorer found
OK, EXTREME, OUT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class OutlierScores:
    """The scores of one batch: one entry per row."""

    #: the score of each row, in [0, 1]
    score: np.ndarray
    #: OK, EXTREME or OUT per row and feature (rows x features, uint8)
    flags: np.ndarray
    #: the features scored, in the order of the flags' columns
    features: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.score)

    def offending(self, row: int) -> list[str]:
        """The features of ``row`` that are out of range, unseen or extreme."""
        return [self.features[j] for j in np.flatnonzero(self.flags[row])]

    def feature_text(self) -> list[str | None]:
        """Per row, the offending features joined by commas (None where there are none).

        The Python work is per flagged row only: clean traffic costs one ``any``.
        """
        text: list[str | None] = [None] * len(self.score)
        for row in np.flatnonzero(self.flags.any(axis=1)).tolist():
            text[row] = ",".join(self.offending(row))
        return text

    def take(self, rows: np.ndarray) -> OutlierScores:
        """The scores of ``rows`` only."""
        return OutlierScores(self.score[rows], self.flags[rows], self.features)

    def above(self, threshold: float) -> np.ndarray:
        """The rows whose score is above ``threshold``."""
        return np.flatnonzero(self.score > threshold)


@dataclass(frozen=True, slots=True, eq=False)
class OutlierScorer:
    """What scoring needs from a profile, as arrays in the input's column order."""

    #: every feature scored: the numeric ones first, then the categorical ones
    features: tuple[str, ...]
    #: the input columns (positions in a 2-D array input) of the numeric features
    numeric_columns: tuple[int, ...]
    low: np.ndarray
    high: np.ndarray
    tail_low: np.ndarray
    tail_high: np.ndarray
    categorical_columns: tuple[int, ...]
    #: the training categories of each categorical feature (None: not all were kept)
    known: tuple[frozenset[str] | None, ...]

    @classmethod
    def from_profile(cls, profile: Profile, columns: Sequence[str]) -> OutlierScorer:
        """The scorer of inputs with ``columns`` (the signature's names, in order)."""
        position = {name: i for i, name in enumerate(columns)}
        numeric: list[tuple[str, NumericProfile]] = []
        categorical: list[tuple[str, CategoricalProfile]] = []
        for name, feature in profile.features.items():
            if name not in position:
                continue
            if isinstance(feature, NumericProfile) and feature.min is not None:
                numeric.append((name, feature))
            elif isinstance(feature, CategoricalProfile) and feature.count:
                categorical.append((name, feature))
        tails = [_tails(f) for _, f in numeric]
        return cls(
            features=tuple(name for name, _ in [*numeric, *categorical]),
            numeric_columns=tuple(position[name] for name, _ in numeric),
            low=np.array([f.min for _, f in numeric], dtype=np.float64),
            high=np.array([f.max for _, f in numeric], dtype=np.float64),
            tail_low=np.array([t[0] for t in tails], dtype=np.float64),
            tail_high=np.array([t[1] for t in tails], dtype=np.float64),
            categorical_columns=tuple(position[name] for name, _ in categorical),
            known=tuple(frozenset(f.categories) if f.other == 0 else None for _, f in categorical),
        )

    @property
    def n_numeric(self) -> int:
        return len(self.numeric_columns)

    def score(self, batch: pd.DataFrame | np.ndarray) -> OutlierScores:
        """Score every row of a validated batch (a DataFrame or 2-D array in column order)."""
        n = len(batch)
        flags = np.zeros((n, len(self.features)), dtype=np.uint8)
        if self.n_numeric:
            values = self._numbers(batch)
            with np.errstate(invalid="ignore"):
                out = (values < self.low) | (values > self.high)
                extreme = (values < self.tail_low) | (values > self.tail_high)
            flags[:, : self.n_numeric] = np.where(out, OUT, np.where(extreme, EXTREME, OK))
        for j, (column, known) in enumerate(
            zip(self.categorical_columns, self.known, strict=True), start=self.n_numeric
        ):
            if known is not None:
                flags[:, j] = np.where(_unseen(_column(batch, column), known), OUT, OK)
        if not self.features:
            return OutlierScores(np.zeros(n), flags, self.features)
        weights = np.array([0.0, EXTREME_WEIGHT, 1.0])
        score = weights[flags].sum(axis=1) / len(self.features)
        return OutlierScores(score, flags, self.features)

    def problems(
        self, batch: pd.DataFrame | np.ndarray, scores: OutlierScores, rows: np.ndarray
    ) -> list[FieldProblem]:
        """One problem per offending feature of ``rows`` (of ``scores`` of ``batch``),
        naming the first bad value and every row it is bad in."""
        numbers = self._numbers(batch) if self.n_numeric else None
        found: list[FieldProblem] = []
        for j, name in enumerate(self.features):
            bad = rows[scores.flags[rows, j] != OK]
            if not len(bad):
                continue
            first = int(bad[0])
            if numbers is not None and j < self.n_numeric:
                detail = self._numeric_detail(j, float(numbers[first, j]))
            else:
                column = _column(batch, self.categorical_columns[j - self.n_numeric])
                detail = f"category {category_key(column[first])!r} was never seen in training"
            found.append(FieldProblem(name, "out_of_distribution", detail, bad.tolist()))
        return found

    def _numeric_detail(self, j: int, value: float) -> str:
        low, high = float(self.low[j]), float(self.high[j])
        if value > high:
            return f"value {value:g} is above everything seen in training (max {high:g})"
        if value < low:
            return f"value {value:g} is below everything seen in training (min {low:g})"
        if value > self.tail_high[j]:
            return (
                f"value {value:g} is beyond the 99.9% quantile of training "
                f"({float(self.tail_high[j]):g}; max {high:g})"
            )
        return (
            f"value {value:g} is below the 0.1% quantile of training "
            f"({float(self.tail_low[j]):g}; min {low:g})"
        )

    def _numbers(self, batch: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The numeric features as a float64 matrix (rows x numeric features)."""
        if isinstance(batch, pd.DataFrame):
            if not len(self.numeric_columns):
                return np.empty((len(batch), 0))
            return np.column_stack(
                [
                    float_values(batch.iloc[:, i], str(batch.columns[i]))
                    for i in self.numeric_columns
                ]
            )
        array = np.asarray(batch)
        return array[:, list(self.numeric_columns)].astype(np.float64, copy=False)


def _tails(feature: NumericProfile) -> tuple[float, float]:
    """The interpolated 0.1% and 99.9% quantiles of a numeric feature (see the module)."""
    edges, counts, means = feature.edges, feature.counts, feature.means
    if len(edges) < 2:
        return float(edges[0]), float(edges[0])
    cdf = np.cumsum(counts) / counts.sum()
    low = float(np.interp(TAIL, cdf, edges))
    mass_at_top = counts[-1] / counts.sum()
    point_mass = bool(means[-1] >= edges[-1])  # the last bin holds copies of the max only
    if point_mass and mass_at_top > TAIL:
        return low, float(edges[-1])
    return low, float(np.interp(1.0 - TAIL, cdf, edges))


def _column(batch: pd.DataFrame | np.ndarray, position: int) -> np.ndarray:
    if isinstance(batch, pd.DataFrame):
        return np.asarray(batch.iloc[:, position].to_numpy(dtype=object))
    return np.asarray(batch)[:, position]


def _unseen(values: np.ndarray, known: frozenset[str]) -> np.ndarray:
    """True where a value is present and its category key is not among ``known``."""
    missing = pd.isna(values)
    # a set lookup per value: categories are few per request, and strings need no key
    unseen = np.fromiter(
        ((v if v.__class__ is str else category_key(v)) not in known for v in values.tolist()),
        dtype=bool,
        count=len(values),
    )
    return unseen & ~missing


def scorer_for(profile: Mapping[str, Any] | None, columns: Sequence[str]) -> OutlierScorer | None:
    """The scorer of a stored profile (``Profile.to_dict``), or None without one."""
    if not profile or not columns:
        return None
    return OutlierScorer.from_profile(Profile.from_dict(profile), columns)
