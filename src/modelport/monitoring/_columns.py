"""Reading DataFrame columns as the plain arrays the statistics work on.

Shared by :mod:`.profile` and :mod:`.drift` so that the reference and the
current data are read by exactly the same rules:

* numeric columns become float64 arrays; a value that is not a finite number
  (NaN, None, pd.NA, NaT, +-inf) counts as missing;
* categorical values become string keys (``1``, ``1.0`` and ``np.int64(1)`` are
  all the key ``"1"``; ``True`` is ``"True"``), missing values are counted apart.

The one pass over the data is a per-column sort (NumPy's SIMD sort), run on a
few threads because NumPy releases the GIL while sorting.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from modelport.errors import DataError

T = TypeVar("T")
R = TypeVar("R")

#: below this many values in total, threads cost more than they save
_PARALLEL_MIN_VALUES = 200_000


def is_categorical(series: pd.Series) -> bool:
    """True unless the dtype is numeric (bool counts as categorical), datetime or timedelta."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return True
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return False
    return not pd.api.types.is_numeric_dtype(dtype)


def float_values(series: pd.Series, name: str) -> np.ndarray:
    """The column as float64 (missing -> NaN). Datetimes become seconds since the epoch."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        since_epoch = series.to_numpy() - np.datetime64(0, "s")
        return (since_epoch / np.timedelta64(1, "s")).astype(np.float64)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return (series.to_numpy() / np.timedelta64(1, "s")).astype(np.float64)
    if pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(dtype):
        try:
            series = pd.to_numeric(series, errors="raise")
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"column '{name}' is numeric in the reference but holds non-numeric values "
                f"(dtype {dtype}): {exc}",
                hint="convert the column to numbers, or profile it as categorical",
            ) from None
        if pd.api.types.is_bool_dtype(series.dtype):
            series = series.astype("float64")
    if pd.api.types.is_complex_dtype(series.dtype):
        raise DataError(
            f"column '{name}' holds complex numbers, which cannot be profiled",
            hint="split it into real and imaginary columns",
        )
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def sorted_finite(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The finite values sorted ascending, and how many values were not finite."""
    ordered = np.sort(values)  # NaN sorts last, +-inf at the ends of the numbers
    lo = int(np.searchsorted(ordered, -np.inf, side="right"))
    hi = int(np.searchsorted(ordered, np.inf, side="left"))
    return ordered[lo:hi], len(values) - (hi - lo)


def category_key(value: Any) -> str:
    """The string a category is stored under, the same for 1, 1.0 and np.int64(1)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def category_counts(values: pd.Series | np.ndarray) -> tuple[dict[str, int], int]:
    """Counts per category key (most frequent first) and the number of missing values."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, copy=False)
    missing = int(series.isna().sum())
    tallies = series.value_counts(dropna=True, sort=True)
    counts: dict[str, int] = {}
    for value, count in zip(tallies.index.tolist(), tallies.to_numpy().tolist(), strict=True):
        if count:
            key = category_key(value)
            counts[key] = counts.get(key, 0) + int(count)
    return counts, missing


def check_frame(frame: Any, what: str) -> pd.DataFrame:
    """``frame`` as a DataFrame with unique string column names and at least one row."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"the {what} data must be a pandas DataFrame, not {type(frame).__name__}",
            hint="wrap it with pandas.DataFrame(...)",
        )
    bad = [c for c in frame.columns if not isinstance(c, str)]
    if bad:
        raise DataError(
            f"the {what} data has column names that are not strings: {bad[:10]!r}",
            hint="rename them, e.g. frame.columns = frame.columns.astype(str)",
        )
    duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if duplicated:
        raise DataError(
            f"the {what} data has duplicated columns: {duplicated[:10]!r}",
            hint="give every column a unique name",
        )
    if len(frame) == 0:
        raise DataError(f"the {what} data has no rows", hint="pass at least one row")
    return frame


def map_columns(func: Callable[[T], R], items: Sequence[T], total_values: int) -> list[R]:
    """``[func(x) for x in items]``, on threads when there is enough work to share."""
    workers = min(len(items), os.cpu_count() or 1, 8)
    if workers < 2 or total_values < _PARALLEL_MIN_VALUES:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modelport-drift") as pool:
        return list(pool.map(func, items))


def names(items: Iterable[str]) -> str:
    """``'a', 'b', 'c'`` for messages."""
    return ", ".join(f"'{item}'" for item in items)
