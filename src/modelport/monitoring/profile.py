"""The reference profile: a compact summary of a training sample.

A :class:`Profile` is stored (as JSON) with every registered model version and
is the baseline that drift detection compares production data against. It is
built by :func:`build_profile` from a DataFrame and, optionally, the model's
predictions on it.

Numeric features keep count, missing count, mean, std (ddof=1), min, max and a
quantile histogram: ``edges`` are the distinct values among the 0%, 1%, ...,
100% quantiles (``inverted_cdf`` quantiles, so every edge is a value of the
data) and ``counts[i]`` is the number of values in ``(edges[i-1], edges[i]]``
(``counts[0]`` is the number equal to the minimum). The cumulative counts are
therefore the exact empirical CDF at every edge, which is what the binned
Kolmogorov-Smirnov test and PSI need; ``means[i]`` is the mean of the values in
bin i, which makes the Wasserstein approximation exact for shifts and immune to
long tails (see :func:`.statistics.wasserstein_binned`). Ties are
handled exactly: a value that fills several percentiles becomes a single edge
whose bin holds all its copies. With 100 bins the CDF is known every 1% of the
mass, ample to see a 0.1 standard-deviation shift (KS D of about 0.04 for a
normal distribution, 0.029 at least for any continuous one) at 10,000-100,000
reference rows.

Categorical features keep the count of each of the 1,000 most frequent
categories (keys are strings: see :func:`._columns.category_key`) plus an
``other`` count for the rest.

A value that is not a finite number (NaN, None, NaT, +-inf) counts as missing
and is never an error.

JSON format (``Profile.to_dict``), version 1; NaN and infinities never appear
(they are ``null``)::

    {"version": 1,
     "count": 100000,                       # rows profiled
     "features": {
        "age": {"kind": "numeric", "count": 99000, "missing": 1000,
                "missing_rate": 0.01, "mean": 41.2, "std": 12.0,
                "min": 18.0, "max": 90.0,
                "edges": [18.0, 19.0, ...], "counts": [1200, 1350, ...],
                "means": [18.0, 19.0, ...]},    # mean of the values in each bin
        "city": {"kind": "categorical", "count": 100000, "missing": 0,
                 "missing_rate": 0.0, "categories": {"paris": 40000, ...},
                 "other": 0, "n_categories": 12}},
     "predictions": null | {<a numeric or categorical feature entry>},
     "labels": {<a categorical feature entry>}}   # only when training labels were given

``labels`` (the class counts of the training labels: the prior the feedback check of
:mod:`.labels` compares ground truth with) was added later within version 1: profiles
without it load with ``labels=None``, and readers that predate it ignore it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from modelport.errors import DataError
from modelport.monitoring._columns import (
    category_counts,
    check_frame,
    float_values,
    is_categorical,
    map_columns,
    names,
    sorted_finite,
)
from modelport.monitoring.numbers import finite_or_none

#: the version of the JSON format written by :meth:`Profile.to_dict`
FORMAT_VERSION = 1
#: quantile bins per numeric feature
DEFAULT_BINS = 100
#: categories kept per categorical feature; the rest are counted as "other"
MAX_CATEGORIES = 1000

PredictionKind = Literal["class", "value"]


@dataclass(frozen=True, eq=False)
class FeatureProfile:
    """What is common to numeric and categorical feature profiles."""

    kind: ClassVar[str]
    #: non-missing values
    count: int
    #: missing values (NaN, None, NaT, +-inf)
    missing: int

    @property
    def total(self) -> int:
        return self.count + self.missing

    @property
    def missing_rate(self) -> float:
        return self.missing / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "missing": self.missing,
            "missing_rate": self.missing_rate,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> FeatureProfile:
        kind = data.get("kind")
        if kind == "numeric":
            return NumericProfile._from_dict(data)
        if kind == "categorical":
            return CategoricalProfile._from_dict(data)
        raise DataError(
            f"unknown feature profile kind {kind!r}",
            hint="expected 'numeric' or 'categorical'; was the profile written by modelport?",
        )


@dataclass(frozen=True, eq=False)
class NumericProfile(FeatureProfile):
    kind: ClassVar[str] = "numeric"
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    #: distinct quantile values, ascending (empty when every value is missing)
    edges: np.ndarray = field(default_factory=lambda: np.empty(0))
    #: values in (edges[i-1], edges[i]]; counts[0] is the number equal to edges[0]
    counts: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    #: the mean of the values in each bin (for the Wasserstein distance)
    means: np.ndarray = field(default_factory=lambda: np.empty(0))

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        for name in ("mean", "std", "min", "max"):
            value = getattr(self, name)
            data[name] = None if value is None else finite_or_none(value)
        data["edges"] = [float(e) for e in self.edges]
        data["counts"] = [int(c) for c in self.counts]
        data["means"] = [float(m) for m in self.means]
        return data

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> NumericProfile:
        edges = np.asarray(data["edges"], dtype=np.float64)
        counts = np.asarray(data["counts"], dtype=np.int64)
        means = np.asarray(data["means"], dtype=np.float64)
        if edges.shape != counts.shape or edges.shape != means.shape or edges.ndim != 1:
            raise DataError(
                "numeric feature profile has edges, counts and means of different lengths",
                hint="the stored profile is damaged: rebuild it with build_profile",
            )
        return cls(
            count=int(data["count"]),
            missing=int(data["missing"]),
            mean=data.get("mean"),
            std=data.get("std"),
            min=data.get("min"),
            max=data.get("max"),
            edges=edges,
            counts=counts,
            means=means,
        )


@dataclass(frozen=True, eq=False)
class CategoricalProfile(FeatureProfile):
    kind: ClassVar[str] = "categorical"
    #: count per category key, most frequent first (at most MAX_CATEGORIES)
    categories: dict[str, int] = field(default_factory=dict)
    #: values of the categories beyond the first MAX_CATEGORIES
    other: int = 0
    #: distinct categories seen, including those counted in ``other``
    n_categories: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["categories"] = dict(self.categories)
        data["other"] = self.other
        data["n_categories"] = self.n_categories
        return data

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> CategoricalProfile:
        return cls(
            count=int(data["count"]),
            missing=int(data["missing"]),
            categories={str(k): int(v) for k, v in data["categories"].items()},
            other=int(data.get("other", 0)),
            n_categories=int(data.get("n_categories", len(data["categories"]))),
        )


@dataclass(frozen=True, eq=False)
class Profile:
    """The reference summary of a data set (and optionally of the model's outputs on it)."""

    #: rows profiled
    count: int
    features: dict[str, FeatureProfile]
    predictions: FeatureProfile | None = None
    #: the training labels' class counts (the prior), when they were given
    labels: CategoricalProfile | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe form described in the module docstring."""
        data: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "count": self.count,
            "features": {name: fp.to_dict() for name, fp in self.features.items()},
            "predictions": None if self.predictions is None else self.predictions.to_dict(),
        }
        if self.labels is not None:  # absent, not null: profiles written before it compare equal
            data["labels"] = self.labels.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """The inverse of :meth:`to_dict`; raises DataError on a damaged or newer profile."""
        if not isinstance(data, Mapping):
            raise DataError(
                f"a profile must be a JSON object, not {type(data).__name__}",
                hint="pass the dict that Profile.to_dict() produced",
            )
        version = data.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            raise DataError(
                f"unsupported profile format version {version!r} "
                f"(this modelport reads versions 1 to {FORMAT_VERSION})",
                hint="upgrade modelport, or rebuild the profile with build_profile",
            )
        try:
            features = {str(n): FeatureProfile.from_dict(f) for n, f in data["features"].items()}
            predictions = data.get("predictions")
            labels = data.get("labels")
            return cls(
                count=int(data["count"]),
                features=features,
                predictions=None if predictions is None else FeatureProfile.from_dict(predictions),
                labels=None if labels is None else CategoricalProfile._from_dict(labels),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(
                f"the profile is damaged: {type(exc).__name__}: {exc}",
                hint="rebuild it with build_profile",
            ) from None

    @property
    def numeric(self) -> list[str]:
        return [n for n, f in self.features.items() if isinstance(f, NumericProfile)]

    @property
    def categorical(self) -> list[str]:
        return [n for n, f in self.features.items() if isinstance(f, CategoricalProfile)]


#: past this magnitude, sums and squares of a column are computed on scaled values
_SCALE_ABOVE = 1e150


def numeric_profile(
    values: np.ndarray, bins: int = DEFAULT_BINS
) -> tuple[NumericProfile, np.ndarray]:
    """The profile of one float64 column, and its finite values sorted (for exact tests)."""
    finite, missing = sorted_finite(values)
    n = len(finite)
    if n == 0:
        return NumericProfile(count=0, missing=missing), finite
    levels = np.arange(bins + 1) / bins
    # inverted_cdf quantile: the smallest value whose empirical CDF reaches the level
    positions = np.clip(np.ceil(levels * n).astype(np.int64) - 1, 0, n - 1)
    edges = np.unique(finite[positions])
    cumulative = np.searchsorted(finite, edges, side="right")
    counts = np.diff(cumulative, prepend=0)
    starts = cumulative - counts  # every bin holds at least its edge value
    # huge values (1e308) overflow sums and squares: compute on scaled values then
    scale = max(abs(float(finite[0])), abs(float(finite[-1])))
    scale = scale if scale > _SCALE_ABOVE else 1.0
    scaled = finite / scale if scale != 1.0 else finite
    means = np.add.reduceat(scaled, starts) / counts * scale
    mean = float(scaled.mean()) * scale
    std = float(scaled.std(ddof=1)) * scale if n > 1 else 0.0
    profile = NumericProfile(
        count=n,
        missing=missing,
        mean=mean,
        std=std,
        min=float(finite[0]),
        max=float(finite[-1]),
        edges=edges,
        counts=counts.astype(np.int64),
        means=means,
    )
    return profile, finite


def categorical_profile(
    values: pd.Series | np.ndarray, max_categories: int = MAX_CATEGORIES
) -> CategoricalProfile:
    """The profile of one categorical column."""
    counts, missing = category_counts(values)
    kept = counts
    if len(counts) > max_categories:
        keys = np.array(list(counts), dtype=object)
        tallies = np.fromiter(counts.values(), dtype=np.int64, count=len(counts))
        top = np.argsort(-tallies, kind="stable")[:max_categories]
        kept = {str(keys[i]): int(tallies[i]) for i in top}
    present = sum(counts.values())
    return CategoricalProfile(
        count=present,
        missing=missing,
        categories=kept,
        other=present - sum(kept.values()),
        n_categories=len(counts),
    )


def _prediction_profile(predictions: Any, kind: PredictionKind | None) -> FeatureProfile:
    array = np.asarray(predictions)
    if array.ndim != 1:
        raise DataError(
            f"predictions must be one value per row (1-D), got shape {array.shape}",
            hint="pass the predicted class, or the probability of the positive class",
        )
    if kind is None:
        kind = "value" if array.dtype.kind in "fc" else "class"
    if kind == "class":
        return categorical_profile(array)
    if kind == "value":
        series = pd.Series(array, copy=False)
        return numeric_profile(float_values(series, "predictions"))[0]
    raise DataError(
        f"prediction_kind must be 'class' or 'value', not {kind!r}",
        hint="'class' for labels, 'value' for regression outputs or scores",
    )


def build_profile(
    frame: pd.DataFrame,
    categorical: Collection[str] = (),
    predictions: np.ndarray | None = None,
    prediction_kind: PredictionKind | None = None,
    *,
    bins: int = DEFAULT_BINS,
    labels: Any | None = None,
) -> Profile:
    """Profile ``frame`` (and the model's ``predictions`` on it) as a drift baseline.

    Columns whose dtype is not numeric (object, string, category, bool) or that are
    named in ``categorical`` are categorical; the others (including datetimes, as
    seconds since the epoch) are numeric. ``prediction_kind`` is inferred when None:
    floats are "value", anything else "class". ``labels``: a classifier's training
    labels for the rows of ``frame``, kept as class counts (the prior).
    """
    profile, _ = profile_and_values(frame, categorical, predictions, prediction_kind, bins)
    if labels is None:
        return profile
    return replace(profile, labels=label_profile(labels, len(frame)))


def label_profile(labels: Any, rows: int) -> CategoricalProfile:
    """The class counts of one training label per row."""
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != rows:
        raise DataError(
            f"labels must be one class per row of the sample ({rows:,}), got shape {array.shape}",
            hint="pass the training labels of the sample's rows, e.g. y_train",
        )
    return categorical_profile(array)


def profile_and_values(
    frame: pd.DataFrame,
    categorical: Collection[str],
    predictions: np.ndarray | None,
    prediction_kind: PredictionKind | None,
    bins: int,
) -> tuple[Profile, dict[str, np.ndarray]]:
    """The profile and, per numeric feature, its sorted finite values."""
    frame = check_frame(frame, "reference")
    if isinstance(categorical, str):
        categorical = [categorical]
    unknown = [c for c in categorical if c not in frame.columns]
    if unknown:
        raise DataError(
            f"categorical columns not in the data: {names(unknown)}",
            hint="name only columns of the frame in categorical=",
        )
    if not isinstance(bins, int) or bins < 2:
        raise DataError(f"bins must be an integer >= 2, not {bins!r}", hint="use bins=100")
    if predictions is None and prediction_kind is not None:
        raise DataError(
            "prediction_kind was given without predictions",
            hint="pass predictions=..., or drop prediction_kind",
        )
    wanted = set(categorical)
    kinds = {c: c in wanted or is_categorical(frame[c]) for c in frame.columns}
    numeric_names = [c for c, cat in kinds.items() if not cat]
    arrays = [float_values(frame[c], c) for c in numeric_names]
    results = map_columns(
        lambda a: numeric_profile(a, bins), arrays, len(frame) * len(numeric_names)
    )
    numeric = dict(zip(numeric_names, results, strict=True))
    features: dict[str, FeatureProfile] = {}
    for column, cat in kinds.items():
        features[column] = categorical_profile(frame[column]) if cat else numeric[column][0]
    prediction_profile = (
        None if predictions is None else _prediction_profile(predictions, prediction_kind)
    )
    profile = Profile(count=len(frame), features=features, predictions=prediction_profile)
    return profile, {name: result[1] for name, result in numeric.items()}
