"""Validated input as plain columns, and the one model-ready input built per batch.

Validation (:mod:`.validation`) turns each request into :class:`Columns`: NumPy arrays
only. Building a DataFrame costs a request about as much as everything else it does, and
scikit-learn's checks on a frame cost it as much again, so the served path builds one frame
per batch instead: :func:`assemble` concatenates the columns of every request of a batch
and gives the model what it was trained on, once. A DataFrame with the training dtypes,
categories and column order for models trained on a frame; one 2-D array otherwise;
:func:`matrix` gives the numeric features of a frame-trained model as one array, and
:func:`mixed_matrix` numbers and text as one object array, for the models proven to answer
the same on it (:mod:`modelport.loaded`).

The layout of a signature (which features are numbers, the categories' codes) is worked out
once per signature, not per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from modelport.schema.signature import FeatureSpec, Signature

#: kinds carried in :attr:`Columns.numbers` (as float64, NaN for null)
NUMERIC_KINDS = ("float", "integer")


@dataclass(frozen=True, slots=True)
class Columns:
    """One request's validated rows, as NumPy arrays (never a DataFrame).

    For a frame-trained model, ``numbers`` holds the numeric features (kinds float and
    integer, in signature order) as one float64 matrix, NaN for null; ``others`` every other
    feature's values: a ``category``-dtype feature as its category codes (-1 for null, or for
    a category the model accepts without knowing it), the rest as coerced arrays (strings as
    objects, booleans, datetimes). For an array-trained model ``numbers`` is the model-ready
    2-D array itself and ``others`` is empty.
    """

    n_rows: int
    numbers: np.ndarray
    others: dict[str, np.ndarray]

    def __len__(self) -> int:
        return self.n_rows


@dataclass(frozen=True)
class Layout:
    """How a signature's features sit in :class:`Columns` (worked out once per signature)."""

    numeric: list[FeatureSpec]
    others: list[FeatureSpec]
    #: the frame's dtype of each ``category``-dtype feature
    dtypes: dict[str, pd.CategoricalDtype]
    #: category -> code, for every category feature (both dtypes), for the fast path
    codes: dict[str, dict[Any, int]]
    #: the category features whose model copes with categories it never saw
    tolerant: frozenset[str]
    #: every feature is a float64 number: the frame is one block of floats
    all_float64: bool
    #: reads the numeric features of a record as a tuple, in order
    numeric_getter: Any
    #: per numeric feature, whether it may be null
    nullable: np.ndarray
    #: the positions in ``numbers`` of the integer features
    integers: np.ndarray
    #: every feature is a float64 or integer number or text (no float32, booleans, dates
    #: or pandas categories): :func:`mixed_matrix` holds exactly the frame's values
    numbers_and_text: bool
    #: the positions in the signature of the numeric and of the other features
    numeric_positions: np.ndarray
    other_positions: np.ndarray


#: per signature, its layout (a signature is immutable; the entry keeps it alive, so its
#: id cannot be reused)
_LAYOUTS: dict[int, tuple[Signature, Layout]] = {}


def layout_of(signature: Signature) -> Layout:
    entry = _LAYOUTS.get(id(signature))
    if entry is not None and entry[0] is signature:
        return entry[1]
    numeric = [f for f in signature.inputs if f.kind in NUMERIC_KINDS]
    others = [f for f in signature.inputs if f.kind not in NUMERIC_KINDS]
    names = [f.name for f in numeric]
    getter: Any
    if len(names) == 1:
        only = names[0]
        getter = lambda record: (record[only],)  # noqa: E731 (itemgetter of one name gives no tuple)
    else:
        getter = itemgetter(*names) if names else (lambda record: ())
    layout = Layout(
        numeric=numeric,
        others=others,
        dtypes={
            f.name: pd.CategoricalDtype(f.categories or [])
            for f in others
            if f.kind == "category" and f.dtype == "category"
        },
        codes={
            f.name: {c: i for i, c in enumerate(f.categories or [])}
            for f in others
            if f.kind == "category"
        },
        tolerant=frozenset(
            f.name
            for f in others
            if f.kind == "category" and (f.accepts_unknown or signature.allow_unknown_categories)
        ),
        all_float64=bool(signature.inputs)
        and all(f.kind == "float" and f.dtype == "float64" for f in signature.inputs),
        numeric_getter=getter,
        nullable=np.array([f.nullable for f in numeric], dtype=bool),
        integers=np.array([i for i, f in enumerate(numeric) if f.kind == "integer"], dtype=int),
        numbers_and_text=bool(signature.inputs)
        and all(_float64(f) or _whole(f) or _text(f) for f in signature.inputs),
        numeric_positions=np.array(
            [i for i, f in enumerate(signature.inputs) if f.kind in NUMERIC_KINDS], dtype=np.intp
        ),
        other_positions=np.array(
            [i for i, f in enumerate(signature.inputs) if f.kind not in NUMERIC_KINDS],
            dtype=np.intp,
        ),
    )
    if len(_LAYOUTS) >= 1024:  # a process that builds many signatures: start again
        _LAYOUTS.clear()
    _LAYOUTS[id(signature)] = (signature, layout)
    return layout


def _float64(spec: FeatureSpec) -> bool:
    return spec.kind == "float" and spec.dtype == "float64"


def _whole(spec: FeatureSpec) -> bool:
    # an integer column of the frame holds the same value as its float64 in ``numbers``
    # (int64 only of the integer dtypes: the values a log of the array keeps are then typed
    # as the frame's column, see mixed_matrix)
    return spec.kind == "integer" and spec.dtype in ("int64", "float64")


def _text(spec: FeatureSpec) -> bool:
    # validated into an object array of str (None for null), as the frame column holds them
    return spec.kind in ("category", "string") and spec.dtype != "category"


def numeric_column(spec: FeatureSpec, values: np.ndarray) -> np.ndarray:
    """A float64 column of validated numbers in the feature's training dtype.

    Integers stay floats when a value is null (NumPy integers have no null), as pandas does.
    """
    if spec.kind == "integer":
        if spec.dtype.startswith(("int", "uint")) and not np.isnan(values).any():
            return values.astype(spec.dtype)
        return values
    if spec.dtype in ("float32", "float16"):
        return values.astype(spec.dtype)
    return values


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def assemble(signature: Signature, parts: Sequence[Columns]) -> Any:
    """The model-ready input of ``parts`` (one request or a whole batch), built once.

    A DataFrame with the training dtypes, categories and column order for a frame-trained
    model; the 2-D array for an array-trained one.
    """
    numbers = _joined([p.numbers for p in parts])
    if signature.input_kind == "ndarray":
        return numbers
    layout = layout_of(signature)
    n_rows = sum(p.n_rows for p in parts)
    data: dict[str, Any] = {}
    for j, spec in enumerate(layout.numeric):
        data[spec.name] = numeric_column(spec, numbers[:, j])
    for spec in layout.others:
        values = _joined([p.others[spec.name] for p in parts])
        dtype = layout.dtypes.get(spec.name)
        data[spec.name] = (
            values if dtype is None else pd.Categorical.from_codes(values, dtype=dtype)
        )
    return pd.DataFrame(data, columns=signature.names, index=pd.RangeIndex(n_rows))


def matrix(signature: Signature, parts: Sequence[Columns]) -> np.ndarray:
    """The numbers of ``parts`` as one float64 array, laid out as a frame of them would be.

    Only for a signature whose features are all float64 numbers. Column-major (Fortran
    order), which is what ``DataFrame.to_numpy()`` gives a model for such a frame: a model's
    arithmetic may differ in the last bit between the two layouts, and the array must give
    exactly what the frame gives.
    """
    assert layout_of(signature).all_float64, "matrix() takes only float64 features"
    return np.asfortranarray(_joined([p.numbers for p in parts]))


def mixed_matrix(signature: Signature, parts: Sequence[Columns]) -> np.ndarray:
    """Every feature of ``parts`` in signature order as one 2-D object array.

    Only for a signature of float64 or integer numbers and text (``Layout.numbers_and_text``):
    the numbers as floats (integers as whole ones), the text as the strings validated (None
    for null), the values a frame of them holds, without building the frame.
    """
    layout = layout_of(signature)
    assert layout.numbers_and_text, "mixed_matrix() takes only float64 and text features"
    numbers = _joined([p.numbers for p in parts])
    out = np.empty((len(numbers), len(signature.inputs)), dtype=object)
    out[:, layout.numeric_positions] = numbers
    for i in layout.integers.tolist():
        # Python ints where the frame's column is int64 (no null in this batch), as
        # whoever reads the array (the prediction log's Arrow conversion) finds the frame's
        spec = layout.numeric[i]
        out[:, layout.numeric_positions[i]] = numeric_column(spec, numbers[:, i])
    for spec, j in zip(layout.others, layout.other_positions.tolist(), strict=True):
        out[:, j] = _joined([p.others[spec.name] for p in parts])
    return out


def mixed_columns(signature: Signature, matrix: np.ndarray) -> Columns:
    """The :class:`Columns` a :func:`mixed_matrix` was made of (for the frame of it)."""
    layout = layout_of(signature)
    numbers = np.asarray(matrix[:, layout.numeric_positions], dtype=np.float64)
    others = {
        spec.name: np.array(matrix[:, j], dtype=object)
        for spec, j in zip(layout.others, layout.other_positions.tolist(), strict=True)
    }
    return Columns(len(matrix), numbers, others)
