"""The single gate: turn a request into model-ready input, or raise one error listing
every bad field.

Every entry point (Python API, REST protocols, batch scoring) calls :func:`validate`.
It accepts the shapes clients send: a DataFrame, a 2-D array, rows (lists in
signature order), records (dicts keyed by feature name), one record, or columns
(a dict of lists). It returns what the flavor expects: a DataFrame with the
training dtypes and column order, or a 2-D NumPy array.

It is written for the serving hot path: list inputs are coerced with one
``np.asarray`` per column and the slow per-value scan runs only to name the
rows of a column already known to be bad.

Why one module of this size: the fast path and the slow path that names the bad
rows must stay side by side, so that every change to one is seen next to the other.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelport.errors import FieldProblem, ValidationError
from modelport.schema.columns import (
    NUMERIC_KINDS,
    Columns,
    Layout,
    assemble,
    layout_of,
    numeric_column,
)
from modelport.schema.signature import FeatureSpec, Signature

Extra = Literal["error", "ignore"]
_ABSENT = object()  # a key missing from a record, as opposed to an explicit null
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}
#: Python types NumPy would turn into numbers but a client did not send as numbers:
#: ``np.asarray([True, "14.2"], float)`` is ``[1.0, 14.2]``.
_BOOLEANS = frozenset({bool, np.bool_})
_NOT_NUMBERS = _BOOLEANS | {str, np.str_, bytes, np.bytes_}


def validate(signature: Signature, data: Any, *, extra: Extra = "error") -> Any:
    """Validate and coerce ``data`` against ``signature``.

    Returns a pandas DataFrame (``input_kind == "dataframe"``) or a 2-D float/int
    NumPy array (``input_kind == "ndarray"``). Raises :class:`ValidationError`
    whose ``problems`` name every unknown, missing, mistyped, null or
    out-of-vocabulary field. ``extra="ignore"`` drops unknown columns instead
    (batch scoring, where inputs carry id columns).
    """
    return assemble(signature, [validate_columns(signature, data, extra=extra)])


def validate_columns(signature: Signature, data: Any, *, extra: Extra = "error") -> Columns:
    """:func:`validate`, stopping at plain columns: NumPy arrays, never a DataFrame.

    What the server does per request; :func:`~modelport.schema.columns.assemble` builds the
    model-ready input once per batch. Raises the same :class:`ValidationError`.
    """
    if signature.input_kind == "ndarray":
        fast = _ndarray_fast_path(signature, data)
        if fast is not None:
            return Columns(len(fast), fast, {})
    elif extra == "error":
        records = _records_fast_path(signature, data)
        if records is not None:
            return records
    columns, n_rows, problems = _to_columns(signature, data, extra)
    if any(p.kind == "shape" for p in problems):
        raise ValidationError(problems, hint=f"expected features: {_listing(signature)}")
    coerced: dict[str, Any] = {}
    for spec in signature.inputs:
        values = columns.get(spec.name, _ABSENT)
        if values is _ABSENT:
            if spec.nullable:
                values = [None] * n_rows
            else:
                problems.append(
                    FieldProblem(spec.name, "missing", f"is required: {spec.describe()}")
                )
                continue
        column, problem = _coerce(spec, values, signature.allow_unknown_categories)
        if problem is not None:
            problems.append(problem)
        else:
            coerced[spec.name] = column
    if problems:
        raise ValidationError(problems, hint=f"expected features: {_listing(signature)}")
    if signature.input_kind == "ndarray":
        array = (
            np.column_stack(
                [
                    numeric_column(f, coerced[f.name])
                    if f.kind in NUMERIC_KINDS
                    else coerced[f.name]
                    for f in signature.inputs
                ]
            )
            if n_rows
            else np.empty((0, len(signature.inputs)))
        )
        return Columns(n_rows, array, {})
    layout = layout_of(signature)
    numbers = (
        np.column_stack([coerced[f.name] for f in layout.numeric])
        if layout.numeric and n_rows
        else np.empty((n_rows, len(layout.numeric)))
    )
    return Columns(n_rows, numbers, {f.name: coerced[f.name] for f in layout.others})


def _records_fast_path(signature: Signature, data: Any) -> Columns | None:
    """Records of a frame-trained model holding exactly its features, every value plainly
    right: numbers read in one ``np.array`` call, categories looked up in a dict.

    Anything else (a missing or unknown key, a boolean or text among numbers, a null where
    none may be, an unknown category, a kind other than numbers and categories) returns
    None, and the general path names the problem.
    """
    if type(data) is dict:
        rows: list[Any] = [data]
    elif type(data) is list and data:
        rows = data
    else:
        return None
    layout = layout_of(signature)
    keys = _record_keys(signature, layout)
    if keys is None:
        return None
    for row in rows:
        if type(row) is not dict or row.keys() != keys:
            return None
    n_rows = len(rows)
    getter = layout.numeric_getter
    values = [getter(row) for row in rows]
    if not _NOT_NUMBERS.isdisjoint(map(type, itertools.chain.from_iterable(values))):
        return None
    try:
        numbers = np.array(values, dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if numbers.shape != (n_rows, len(layout.numeric)):
        return None
    finite = np.isfinite(numbers).all()  # one pass in the common case
    if not finite and (np.isinf(numbers).any() or (np.isnan(numbers) & ~layout.nullable).any()):
        return None
    if layout.integers.size:
        whole = numbers[:, layout.integers]
        if (np.mod(np.nan_to_num(whole), 1) != 0).any():
            return None
    others: dict[str, np.ndarray] = {}
    for spec in layout.others:
        codes = layout.codes[spec.name]
        name = spec.name
        items = [row[name] for row in rows]
        if spec.name in layout.tolerant:
            # the model copes with categories it never saw: any text passes (a new one as
            # code -1, as pd.Categorical makes it); nulls and non-text go the general way
            if not all(type(v) is str for v in items):
                return None
            if spec.dtype == "category":
                others[name] = np.array([codes.get(v, -1) for v in items], dtype=np.int32)
            else:
                others[name] = np.array(items, dtype=object)
            continue
        try:
            found = [codes[v] for v in items]
        except (KeyError, TypeError):  # unknown, null or unhashable: named by the general path
            return None
        if spec.dtype == "category":
            others[name] = np.array(found, dtype=np.int32)
        else:
            others[name] = np.array(items, dtype=object)
    return Columns(n_rows, numbers, others)


#: per signature, the exact key set of its records, None when the fast path does not apply
_RECORD_KEYS: dict[int, tuple[Signature, frozenset[str] | None]] = {}


def _record_keys(signature: Signature, layout: Layout) -> frozenset[str] | None:
    entry = _RECORD_KEYS.get(id(signature))
    if entry is not None and entry[0] is signature:
        return entry[1]
    # booleans, free text and dates: the general path
    readable = all(f.kind in NUMERIC_KINDS or f.kind == "category" for f in signature.inputs)
    keys = frozenset(signature.names) if readable and signature.inputs else None
    if len(_RECORD_KEYS) >= 1024:
        _RECORD_KEYS.clear()
    _RECORD_KEYS[id(signature)] = (signature, keys)
    return keys


def _listing(signature: Signature) -> str:
    names = signature.names
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")


def _ndarray_fast_path(signature: Signature, data: Any) -> np.ndarray | None:
    """Rows of numbers for an array-trained model: one asarray, a NaN check, done."""
    if not isinstance(data, (list, np.ndarray)):
        return None
    if isinstance(data, np.ndarray) and data.dtype.kind not in "iuf":
        return None  # booleans, text, objects: the slow path refuses them by name
    try:
        # C order, as decoded JSON is: scikit-learn's arithmetic on a Fortran-ordered array
        # (what DataFrame.to_numpy() gives) differs in the last bit, and every front end
        # must give the same answer
        array = np.asarray(data, dtype=np.float64, order="C")
    except (ValueError, TypeError):
        return None
    if isinstance(data, list):
        # a C-speed pass over the types; the slow path names the rows holding non-numbers
        values = data if array.ndim == 1 else itertools.chain.from_iterable(data)
        if not _NOT_NUMBERS.isdisjoint(map(type, values)):
            return None
    plan = _fast_plan(signature)
    if plan is None:
        return None  # integer columns need the whole-number check of the slow path
    dtype, nullable = plan
    if array.ndim == 1 and len(nullable) == array.shape[0] and array.shape[0]:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != len(nullable):
        return None
    if not np.isfinite(array).all():  # one pass in the common case; the rare one looks closer
        if np.isinf(array).any():
            return None  # the slow path names the field holding infinity
        if (np.isnan(array) & ~nullable).any():
            return None
    return array if dtype == "float64" else array.astype(dtype)


#: per signature, what the fast path needs: computed once, not per request (a signature is
#: immutable; the entry keeps it alive, so its id cannot be reused; one per served version)
_FAST_PLANS: dict[int, tuple[Signature, tuple[str, np.ndarray] | None]] = {}


def _fast_plan(signature: Signature) -> tuple[str, np.ndarray] | None:
    """(dtype, nullable mask) when every feature is a float, else None."""
    entry = _FAST_PLANS.get(id(signature))
    if entry is not None and entry[0] is signature:
        return entry[1]
    plan: tuple[str, np.ndarray] | None = None
    if all(f.kind == "float" for f in signature.inputs):
        dtype = signature.inputs[0].dtype if signature.inputs else "float64"
        plan = (dtype, np.array([f.nullable for f in signature.inputs], dtype=bool))
    if len(_FAST_PLANS) >= 1024:  # a process that builds many signatures: start again
        _FAST_PLANS.clear()
    _FAST_PLANS[id(signature)] = (signature, plan)
    return plan


def _to_columns(
    signature: Signature, data: Any, extra: Extra
) -> tuple[dict[str, Any], int, list[FieldProblem]]:
    """Any accepted input shape -> ({feature: values}, row count, shape problems)."""
    names = signature.names
    problems: list[FieldProblem] = []
    columns: dict[str, Any]
    if isinstance(data, pd.DataFrame):
        columns = {str(c): data[c] for c in data.columns}
        n_rows = len(data)
    elif isinstance(data, np.ndarray):
        array = data.reshape(1, -1) if data.ndim == 1 else data
        if array.ndim != 2 or array.shape[1] != len(names):
            problems.append(_shape_problem(signature, array.shape))
            return {}, 0, problems
        columns = {n: array[:, i] for i, n in enumerate(names)}
        n_rows = array.shape[0]
    elif isinstance(data, Mapping):
        if data and all(_is_sequence(v) for v in data.values()):
            columns = {str(k): v for k, v in data.items()}
            lengths = {len(v) for v in columns.values()}
            if len(lengths) > 1:
                problems.append(
                    FieldProblem("*", "shape", f"columns have different lengths {sorted(lengths)}")
                )
                return {}, 0, problems
            n_rows = lengths.pop() if lengths else 0
        else:
            return _to_columns(signature, [data], extra)
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        rows = list(data)
        if not rows:
            return {n: [] for n in names}, 0, problems
        if (
            signature.input_kind == "ndarray"
            and len(rows) == len(names)
            and not any(_is_sequence(r) or isinstance(r, Mapping) for r in rows)
        ):
            rows = [rows]  # one flat row, as the fast path reads it: name its bad values too
        if all(isinstance(r, Mapping) for r in rows):
            keys: set[str] = set()
            for r in rows:
                keys.update(r)
            columns = {k: [r.get(k, None) for r in rows] for k in keys}
            for k in keys:  # an absent key on a non-nullable feature is "missing"
                spec = signature.feature(k)
                if spec is not None and not spec.nullable:
                    absent = [i for i, r in enumerate(rows) if k not in r]
                    if absent:
                        problems.append(
                            FieldProblem(k, "missing", f"is required: {spec.describe()}", absent)
                        )
                        columns.pop(k)
            n_rows = len(rows)
        elif all(_is_sequence(r) for r in rows):
            bad = [i for i, r in enumerate(rows) if len(r) != len(names)]
            if bad:
                problems.append(
                    FieldProblem(
                        "*",
                        "shape",
                        f"rows must have {len(names)} values in the order {_listing(signature)}",
                        bad,
                    )
                )
                return {}, 0, problems
            columns = {n: list(col) for n, col in zip(names, zip(*rows, strict=True), strict=True)}
            n_rows = len(rows)
        else:
            problems.append(
                FieldProblem(
                    "*", "shape", "expected rows (lists), records (objects) or a 2-D array"
                )
            )
            return {}, 0, problems
    else:
        problems.append(
            FieldProblem(
                "*",
                "shape",
                f"cannot read input of type {type(data).__name__}; send records, rows or columns",
            )
        )
        return {}, 0, problems
    if extra == "error":
        known = set(names)
        for name in columns:
            if name not in known:
                problems.append(FieldProblem(name, "unknown", _unknown_detail(name, names)))
    return columns, n_rows, problems


def _unknown_detail(name: str, names: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"unknown feature; did you mean '{close[0]}'?"
    return f"unknown feature; expected one of: {', '.join(names[:12])}"


def _shape_problem(signature: Signature, shape: tuple[int, ...]) -> FieldProblem:
    return FieldProblem(
        "*", "shape", f"expected (rows, {len(signature.inputs)}) values, got shape {shape}"
    )


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray, pd.Series))


def _coerce(spec: FeatureSpec, values: Any, allow_unknown: bool) -> tuple[Any, FieldProblem | None]:
    """One column, coerced to the feature's kind, or the problem with it.

    Each kind assumes one scalar per row. A list or object where a value belongs (a
    record's ``"clinic": ["north"]``) is looked for only once a column has failed, so
    good input pays nothing for it; it is then reported as such, whatever the kind.
    """
    try:
        column, problem = _coerce_kind(spec, values, allow_unknown)
    except (TypeError, ValueError):  # e.g. an unhashable list tested against categories
        nested = _nested_rows(values)
        if not nested:
            raise
        return None, _nested_problem(spec, nested)
    # A column that tolerates unknown categories lets any value through, a list too.
    tolerant = spec.kind == "category" and (allow_unknown or spec.accepts_unknown)
    if (problem is not None and problem.kind in ("type", "category")) or tolerant:
        nested = _nested_rows(values)
        if nested:
            return None, _nested_problem(spec, nested)
    return column, problem


def _nested_rows(values: Any) -> list[int]:
    return [i for i, v in enumerate(values) if isinstance(v, (list, tuple, dict, set, np.ndarray))]


def _nested_problem(spec: FeatureSpec, rows: list[int]) -> FieldProblem:
    return FieldProblem(
        spec.name,
        "type",
        f"expected a single value ({spec.describe()}), not a list or object",
        rows,
    )


def _coerce_kind(
    spec: FeatureSpec, values: Any, allow_unknown: bool
) -> tuple[Any, FieldProblem | None]:
    kind = spec.kind
    if kind in ("float", "integer"):
        return _coerce_number(spec, values)
    if kind == "category":
        return _coerce_category(spec, values, allow_unknown)
    if kind == "boolean":
        return _coerce_boolean(spec, values)
    if kind == "datetime":
        return _coerce_datetime(spec, values)
    return _coerce_string(spec, values)


def _null_problem(spec: FeatureSpec, rows: Sequence[int] | np.ndarray) -> FieldProblem:
    return FieldProblem(
        spec.name,
        "null",
        f"must not be null (the model was trained without missing values here): {spec.describe()}",
        [int(r) for r in rows],
    )


def _coerce_number(spec: FeatureSpec, values: Any) -> tuple[Any, FieldProblem | None]:
    if _numeric_dtype(values):
        array = (
            values.to_numpy(dtype=np.float64, na_value=np.nan)
            if isinstance(values, pd.Series)
            else np.asarray(values, dtype=np.float64)
        )
    else:
        # JSON and Python values say what they are: "14.2" is text there, not a number. A
        # table column of text (a CSV read as text, a DataFrame of strings) has no other
        # way to write a number, so its text is parsed (and bad text named by row).
        text_is_number = isinstance(values, pd.Series)
        odd = _not_number_rows(values, text_is_number)
        if odd:
            return None, FieldProblem(
                spec.name,
                "type",
                f"expected {spec.describe()}, not {_value_kind(_at(values, odd[0]))}",
                odd,
            )
        try:
            array = np.asarray(values, dtype=np.float64)
            if array.ndim != 1:
                raise ValueError
        except (ValueError, TypeError):
            bad = [i for i, v in enumerate(values) if not _is_number_like(v, text_is_number)]
            return None, FieldProblem(spec.name, "type", f"expected {spec.describe()}", bad or None)
    infinite = np.flatnonzero(np.isinf(array))
    if infinite.size:
        # Infinity passes dtype checks but makes models fail mid-batch; refuse it like NaN.
        return None, FieldProblem(
            spec.name,
            "type",
            f"must be finite (got infinity): {spec.describe()}",
            infinite.tolist(),
        )
    nulls = np.isnan(array)
    if not spec.nullable and nulls.any():
        return None, _null_problem(spec, np.flatnonzero(nulls))
    if spec.kind == "integer":
        finite = ~nulls
        fraction = np.flatnonzero(finite & (np.mod(np.where(finite, array, 0), 1) != 0))
        if fraction.size:
            return None, FieldProblem(
                spec.name, "type", "expected a whole number", fraction.tolist()
            )
        return array, None
    return array, None  # float64: the training dtype is given at assembly (numeric_column)


def _numeric_dtype(values: Any) -> bool:
    """A typed column of numbers (booleans are a dtype of their own, not numbers)."""
    if isinstance(values, pd.Series):
        dtype = values.dtype
        return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    return isinstance(values, np.ndarray) and values.dtype.kind in "iuf"


def _not_number_rows(values: Any, text_is_number: bool) -> list[int]:
    """Rows holding a boolean (or text), which NumPy would silently read as numbers."""
    kind = getattr(getattr(values, "dtype", None), "kind", "O")
    if kind == "b" or (kind in "US" and not text_is_number):
        return list(range(len(values)))  # a typed column of booleans or text
    refused = _BOOLEANS if text_is_number else _NOT_NUMBERS
    if refused.isdisjoint(map(type, values)):
        return []
    return [i for i, v in enumerate(values) if type(v) in refused]


def _at(values: Any, row: int) -> Any:
    return values.iloc[row] if isinstance(values, pd.Series) else values[row]


def _value_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return f"a boolean ({str(bool(value)).lower()})"
    if isinstance(value, (str, bytes)):
        more = "..." if len(value) > 40 else ""
        return f"text ({value[:40]!r}{more})"
    return type(value).__name__


def _is_number_like(value: Any, text_is_number: bool) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if value is None or isinstance(value, (int, float, np.number)):
        return True
    if text_is_number and isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _coerce_category(
    spec: FeatureSpec, values: Any, allow_unknown: bool
) -> tuple[Any, FieldProblem | None]:
    categories = spec.categories or []
    # The signature-wide flag predates the per-column field; either lets new values through.
    allow_unknown = allow_unknown or spec.accepts_unknown
    if isinstance(values, (pd.Series, np.ndarray)) and len(values) > 256:
        series = pd.Series(values, copy=False).astype(object)
        nulls = series.isna().to_numpy()
        known = series.isin(categories).to_numpy()
        bad_rows: Sequence[int] | np.ndarray = np.flatnonzero(~nulls & ~known)
        null_rows: Sequence[int] | np.ndarray = np.flatnonzero(nulls)
        items: Any = series.to_numpy()
    else:
        items = list(values)
        catset = set(categories)
        null_rows = [i for i, v in enumerate(items) if _is_null(v)]
        bad_rows = [i for i, v in enumerate(items) if v not in catset and not _is_null(v)]
    if len(null_rows) and not spec.nullable:
        return None, _null_problem(spec, null_rows)
    if len(bad_rows) and not allow_unknown:
        seen = sorted({str(items[i]) for i in bad_rows[:50]})
        shown = ", ".join(repr(s) for s in seen[:5])
        return None, FieldProblem(
            spec.name,
            "category",
            f"unknown categor{'y' if len(seen) == 1 else 'ies'} {shown}; "
            f"expected {spec.describe()}",
            [int(r) for r in bad_rows],
        )
    if spec.dtype == "category":  # its codes; the Categorical is built once per batch
        codes = {c: i for i, c in enumerate(categories)}
        return np.array([codes.get(v, -1) for v in items], dtype=np.int32), None
    column = np.asarray(items, dtype=object)
    if len(null_rows):
        column[np.asarray(null_rows, dtype=int)] = None
    return column, None


def _coerce_boolean(spec: FeatureSpec, values: Any) -> tuple[Any, FieldProblem | None]:
    out: list[Any] = []
    bad: list[int] = []
    nulls: list[int] = []
    for i, v in enumerate(values):
        if _is_null(v):
            nulls.append(i)
            out.append(None)
        elif isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, np.integer)) and v in (0, 1)):
            out.append(bool(v))
        elif isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            out.append(v.strip().lower() in _TRUE)
        else:
            bad.append(i)
    if bad:
        return None, FieldProblem(spec.name, "type", "expected true or false", bad)
    if nulls and not spec.nullable:
        return None, _null_problem(spec, nulls)
    return (np.asarray(out, dtype=object) if nulls else np.asarray(out, dtype=bool)), None


def _coerce_datetime(spec: FeatureSpec, values: Any) -> tuple[Any, FieldProblem | None]:
    series = pd.Series(values, copy=False)
    parsed = pd.to_datetime(series, errors="coerce", utc="UTC" in spec.dtype)
    was_null = series.isna().to_numpy()
    bad = np.flatnonzero(parsed.isna().to_numpy() & ~was_null)
    if bad.size:
        return None, FieldProblem(spec.name, "type", "expected a date/time", bad.tolist())
    if was_null.any() and not spec.nullable:
        return None, _null_problem(spec, np.flatnonzero(was_null))
    return parsed.to_numpy(), None


def _coerce_string(spec: FeatureSpec, values: Any) -> tuple[Any, FieldProblem | None]:
    items = list(values)
    bad = [i for i, v in enumerate(items) if not isinstance(v, str) and not _is_null(v)]
    if bad:
        return None, FieldProblem(spec.name, "type", "expected a string", bad)
    nulls = [i for i, v in enumerate(items) if _is_null(v)]
    if nulls and not spec.nullable:
        return None, _null_problem(spec, nulls)
    return np.asarray(items, dtype=object), None


def no_rows() -> ValidationError:
    """The error for a request without rows, the same on both protocols (422).

    Models fail on zero rows in their own ways, so an empty request is refused before it
    reaches one, saying there is nothing to predict.
    """
    return ValidationError(
        [FieldProblem("*", "shape", "no input rows: there is nothing to predict")],
        hint="send at least one row, record or non-empty column",
    )


def require_rows(prepared: Any) -> int:
    """The row count of validated input; refuses zero rows (:func:`no_rows`)."""
    n = len(prepared)
    if n == 0:
        raise no_rows()
    return n
