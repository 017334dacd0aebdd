"""Synthetic rows drawn from a version's reference profile, for a student to learn from.

The stored sample (at most 2,000 rows) shows a student the teacher only where the
training data is dense. The reference profile summarises the whole training data per
feature: quantile histograms of numbers, frequencies of categories, missing rates. Rows
drawn from it feature by feature (independently: the profile keeps no joint statistics)
cover the whole range each feature takes, including combinations the sample never had,
which is where a student trained on the sample alone drifts away from its teacher. They
are labelled by the teacher, so they need not be realistic, only valid inputs.

Numbers: a quantile bin is chosen in proportion to its count, then a value uniformly
within it (whole numbers for integer features: the integers inside the bin); the first
bin holds only the minimum. Categories: in proportion to their counts, keeping only
those the signature accepts. A value is missing with the profile's missing rate when the
feature may be null. Features the profile cannot describe (free text, dates, or absent
from it) are resampled from the stored rows. Seeded: the same inputs give the same rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelport.monitoring._columns import category_key
from modelport.monitoring.profile import CategoricalProfile, NumericProfile, Profile
from modelport.schema import FeatureSpec, Signature


def synthetic_rows(
    signature: Signature,
    profile: Profile | None,
    sample: pd.DataFrame,
    rows: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """``rows`` rows in the signature's raw form (columns by feature name) drawn as above."""
    columns: dict[str, Any] = {}
    for spec in signature.inputs:
        described = None if profile is None else profile.features.get(spec.name)
        drawn = None
        if isinstance(described, NumericProfile) and spec.kind in ("float", "integer"):
            drawn = _numbers(spec, described, rows, rng)
        elif isinstance(described, CategoricalProfile) and spec.kind in ("category", "boolean"):
            drawn = _categories(spec, described, rows, rng)
        if drawn is None:
            drawn = _resampled(spec, sample, rows, rng)
        columns[spec.name] = drawn
    return pd.DataFrame(columns, columns=signature.names)


def _numbers(
    spec: FeatureSpec, profile: NumericProfile, rows: int, rng: np.random.Generator
) -> np.ndarray | None:
    edges = np.asarray(profile.edges, dtype=np.float64)
    counts = np.asarray(profile.counts, dtype=np.float64)
    if profile.count == 0 or edges.size == 0 or counts.sum() <= 0:
        return None
    bins = rng.choice(edges.size, size=rows, p=counts / counts.sum())
    upper = edges[bins]
    lower = np.where(bins > 0, edges[np.maximum(bins - 1, 0)], upper)
    # (lower, upper]: 1 - U is in (0, 1], so the value never equals the previous edge
    values = upper - (upper - lower) * rng.random(rows)
    if spec.kind == "integer":
        values = np.clip(np.ceil(values), lower + (bins > 0), upper)
    values = np.where(bins == 0, upper, values)
    return _with_missing(spec, values.astype(np.float64), profile.missing_rate, rng)


def _categories(
    spec: FeatureSpec, profile: CategoricalProfile, rows: int, rng: np.random.Generator
) -> np.ndarray | None:
    if spec.kind == "boolean":
        accepted: dict[str, Any] = {"True": True, "False": False}
    elif spec.categories:
        accepted = {category_key(c): c for c in spec.categories}
    else:
        return None
    known = [(accepted[k], n) for k, n in profile.categories.items() if k in accepted and n > 0]
    if not known:
        return None
    values = np.empty(len(known), dtype=object)
    values[:] = [v for v, _ in known]
    weights = np.array([n for _, n in known], dtype=np.float64)
    drawn = values[rng.choice(len(known), size=rows, p=weights / weights.sum())]
    return _with_missing(spec, drawn, profile.missing_rate, rng)


def _with_missing(
    spec: FeatureSpec, values: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    if not spec.nullable or rate <= 0:
        return values
    missing = rng.random(len(values)) < rate
    if values.dtype.kind == "f":
        return np.where(missing, np.nan, values)
    out = values.astype(object)
    out[missing] = None
    return out


def _resampled(
    spec: FeatureSpec, sample: pd.DataFrame, rows: int, rng: np.random.Generator
) -> np.ndarray:
    column = sample[spec.name].to_numpy(dtype=object)
    return column[rng.integers(0, len(column), size=rows)]
