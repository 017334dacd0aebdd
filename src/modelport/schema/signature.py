"""Signature inference: names, dtypes, categories, ranges and nullability from a sample.

A signature is plain data (JSON round-trip through ``to_dict``/``from_dict``)
stored with every registered version. :mod:`.validation` enforces it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelport.errors import DataError

Kind = Literal["float", "integer", "boolean", "category", "string", "datetime"]
InputKind = Literal["dataframe", "ndarray"]
UnknownCategories = Literal["refuse", "accept"]

# Columns of strings with at most this many distinct values in the sample are
# categorical (membership is enforced); more than that is free text.
MAX_CATEGORIES = 1000


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One input feature."""

    name: str
    kind: Kind
    #: the dtype the model was trained with (pandas/NumPy name), reproduced on input
    dtype: str
    nullable: bool = False
    categories: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    #: what a category column does with a value the sample did not have: "refuse" it, or
    #: "accept" it because the model copes (OneHotEncoder(handle_unknown="ignore"), ...).
    #: Signatures stored before this field existed load as "refuse".
    unknown_categories: UnknownCategories = "refuse"

    def describe(self) -> str:
        if self.kind == "category" and self.categories is not None:
            shown = ", ".join(repr(c) for c in self.categories[:8])
            more = ", ..." if len(self.categories) > 8 else ""
            others = " (or another: the model accepts new ones)" if self.accepts_unknown else ""
            return f"one of {shown}{more}{others}" if shown else "a category"
        return {
            "float": "a number",
            "integer": "a whole number",
            "boolean": "true or false",
            "string": "a string",
            "datetime": "a date/time",
            "category": "a category",
        }[self.kind]

    @property
    def accepts_unknown(self) -> bool:
        return self.unknown_categories == "accept"


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """What the model returns: class labels or values, and whether probabilities exist."""

    kind: Literal["class", "value"]
    dtype: str
    classes: list[Any] | None = None
    has_proba: bool = False


@dataclass(frozen=True, slots=True)
class Signature:
    """The input schema (ordered features) and the output schema of a model version."""

    inputs: list[FeatureSpec]
    input_kind: InputKind = "dataframe"
    outputs: OutputSpec | None = None
    #: accept categories not seen in the sample (the model must cope, e.g. OneHotEncoder
    #: with handle_unknown="ignore"); they are still reported by drift monitoring
    allow_unknown_categories: bool = False
    _index: dict[str, FeatureSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({f.name: f for f in self.inputs})

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.inputs]

    def feature(self, name: str) -> FeatureSpec | None:
        return self._index.get(name)

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.inputs if f.kind in ("category", "string", "boolean")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [asdict(f) for f in self.inputs],
            "input_kind": self.input_kind,
            "outputs": asdict(self.outputs) if self.outputs else None,
            "allow_unknown_categories": self.allow_unknown_categories,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        outputs = data.get("outputs")
        return cls(
            inputs=[FeatureSpec(**f) for f in data["inputs"]],
            input_kind=data.get("input_kind", "dataframe"),
            outputs=OutputSpec(**outputs) if outputs else None,
            allow_unknown_categories=bool(data.get("allow_unknown_categories", False)),
        )


def sample_to_frame(sample: Any) -> tuple[pd.DataFrame, InputKind]:
    """Normalise a sample (DataFrame, 2-D array, list of dicts, dict of columns) to a frame."""
    if isinstance(sample, pd.DataFrame):
        return sample, "dataframe"
    if isinstance(sample, np.ndarray):
        if sample.ndim != 2:
            raise DataError(
                f"a NumPy sample must be 2-D (rows x features), got shape {sample.shape}",
                hint="reshape it, e.g. sample.reshape(-1, 1) for one feature",
            )
        columns = [f"f{i}" for i in range(sample.shape[1])]
        return pd.DataFrame(sample, columns=columns), "ndarray"
    if isinstance(sample, dict):
        return pd.DataFrame(sample), "dataframe"
    if isinstance(sample, list) and sample and all(isinstance(r, dict) for r in sample):
        return pd.DataFrame.from_records(sample), "dataframe"
    raise DataError(
        f"cannot infer a signature from a sample of type {type(sample).__name__}",
        hint="pass a pandas DataFrame, a 2-D NumPy array, a list of dicts or a dict of columns",
    )


def _feature_from_series(name: str, series: pd.Series) -> FeatureSpec:
    nullable = bool(series.isna().any())
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = [_plain(c) for c in dtype.categories]
        if not cats:
            raise DataError(
                f"column {name!r} is categorical with no categories, so it would refuse "
                "every value",
                hint=f"give {name!r} its categories (pd.Categorical(values, categories=[...])) "
                "or drop the column if the model does not use it",
            )
        return FeatureSpec(name, "category", "category", nullable, categories=cats)
    if pd.api.types.is_bool_dtype(dtype):
        return FeatureSpec(name, "boolean", str(dtype), nullable)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return FeatureSpec(name, "datetime", str(dtype), nullable)
    if pd.api.types.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        finite = values[np.isfinite(values)]
        lo = float(finite.min()) if finite.size else None
        hi = float(finite.max()) if finite.size else None
        kind: Kind = "integer" if pd.api.types.is_integer_dtype(dtype) else "float"
        return FeatureSpec(name, kind, str(dtype), nullable, min=lo, max=hi)
    # object / string columns: categorical when few distinct values, else free text
    present = series.dropna()
    if present.empty:
        # Refused rather than guessed: from nulls alone neither the type nor the known
        # categories can be inferred, and a column with no known categories would refuse
        # every real value later.
        raise DataError(
            f"column {name!r} has no values in the sample (every row is null), so its type "
            "and categories cannot be inferred; modelport refuses such a sample rather than "
            "guess",
            hint=f"pass a sample in which {name!r} has values (some rows of the training data "
            "that have it), or drop the column if the model does not use it",
        )
    if not all(isinstance(v, str) for v in present.head(1000)):
        raise DataError(
            f"column {name!r} mixes types ({present.map(type).unique().tolist()[:4]})",
            hint="give it one type: numbers, strings, or booleans",
        )
    distinct = pd.unique(present)
    if len(distinct) <= MAX_CATEGORIES:
        cats = sorted(str(c) for c in distinct)
        return FeatureSpec(name, "category", "object", nullable, categories=cats)
    return FeatureSpec(name, "string", "object", nullable)


def _plain(value: Any) -> Any:
    """NumPy scalars to plain Python values, so signatures serialise as JSON."""
    return value.item() if isinstance(value, np.generic) else value


def infer_output(predictions: Any, classes: list[Any] | None, has_proba: bool) -> OutputSpec:
    values = np.asarray(predictions)
    if classes is not None:
        return OutputSpec(
            "class", str(values.dtype), classes=[_plain(c) for c in classes], has_proba=has_proba
        )
    return OutputSpec("value", str(values.dtype), has_proba=has_proba)


def infer_signature(
    sample: Any,
    *,
    predictions: Any | None = None,
    classes: list[Any] | None = None,
    has_proba: bool = False,
    allow_unknown_categories: bool = False,
    accept_unknown: Collection[str] = (),
) -> Signature:
    """Infer a signature from a training sample (and optionally the model's outputs on it).

    ``accept_unknown`` names the category columns for which the model copes with values
    it never saw; they get ``unknown_categories="accept"``.

    >>> import pandas as pd
    >>> sig = infer_signature(pd.DataFrame({"age": [31, 45], "home": ["rent", "own"]}))
    >>> [(f.name, f.kind) for f in sig.inputs]
    [('age', 'integer'), ('home', 'category')]
    """
    frame, input_kind = sample_to_frame(sample)
    if len(frame) == 0:
        raise DataError("the sample has no rows", hint="pass at least one row of training data")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise DataError("the sample has duplicate column names", hint="rename the columns")
    features = [_feature_from_series(str(c), frame[c]) for c in frame.columns]
    features = [
        replace(f, unknown_categories="accept")
        if f.kind == "category" and f.name in accept_unknown
        else f
        for f in features
    ]
    outputs = None if predictions is None else infer_output(predictions, classes, has_proba)
    return Signature(
        features,
        input_kind=input_kind,
        outputs=outputs,
        allow_unknown_categories=allow_unknown_categories,
    )
