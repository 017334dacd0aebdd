from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.errors import DataError
from modelport.schema import Signature, infer_signature


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [31, 45, 52],
            "income": [52000.0, np.nan, 71000.5],
            "home": ["rent", "own", "rent"],
            "active": [True, False, True],
            "segment": pd.Categorical(["a", "b", "a"], categories=["a", "b", "c"]),
            "when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
        }
    )


def test_infers_names_kinds_ranges_categories_and_nullability() -> None:
    sig = infer_signature(frame())
    by = {f.name: f for f in sig.inputs}
    assert sig.names == ["age", "income", "home", "active", "segment", "when"]
    assert (by["age"].kind, by["age"].dtype, by["age"].min, by["age"].max) == (
        "integer",
        "int64",
        31,
        52,
    )
    assert by["income"].kind == "float" and by["income"].nullable and not by["age"].nullable
    assert by["home"].kind == "category" and by["home"].categories == ["own", "rent"]
    assert by["active"].kind == "boolean"
    assert by["segment"].categories == ["a", "b", "c"] and by["segment"].dtype == "category"
    assert by["when"].kind == "datetime"
    assert sig.input_kind == "dataframe"


def test_round_trips_through_json() -> None:
    import json

    sig = infer_signature(frame(), predictions=np.array([0, 1, 0]), classes=[0, 1], has_proba=True)
    again = Signature.from_dict(json.loads(json.dumps(sig.to_dict())))
    assert again == sig
    assert again.outputs is not None and again.outputs.classes == [0, 1]


def test_arrays_records_and_columns() -> None:
    sig = infer_signature(np.zeros((4, 3)))
    assert sig.input_kind == "ndarray" and sig.names == ["f0", "f1", "f2"]
    assert infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]).names == ["a", "b"]
    assert infer_signature({"a": [1.0, 2.0]}).inputs[0].kind == "float"


@pytest.mark.parametrize(
    "sample",
    [np.zeros(3), pd.DataFrame(), "text", [1, 2, 3], pd.DataFrame({"x": ["a", 1]})],
)
def test_unusable_samples_are_refused_clearly(sample: object) -> None:
    with pytest.raises(DataError) as info:
        infer_signature(sample)
    assert info.value.hint


@pytest.mark.parametrize(
    "column",
    [
        [None, None, None],
        pd.array([None, None, None], dtype="string"),
        pd.Categorical([None, None, None]),  # a categorical dtype with no categories
    ],
)
def test_a_column_without_known_categories_is_refused_by_name(column: object) -> None:
    # Such a column used to become a category with no categories, refusing every value.
    with pytest.raises(DataError) as info:
        infer_signature(pd.DataFrame({"age": [1, 2, 3], "note": column}))
    assert "'note'" in info.value.message
    assert info.value.hint and "drop the column" in info.value.hint


def test_a_declared_categorical_with_all_null_values_keeps_its_categories() -> None:
    sample = pd.DataFrame({"seg": pd.Categorical([None, None], categories=["a", "b"])})
    spec = infer_signature(sample).inputs[0]
    assert spec.categories == ["a", "b"] and spec.nullable


def test_accept_unknown_marks_only_category_columns_and_round_trips() -> None:
    import json

    sig = infer_signature(frame(), accept_unknown={"home", "age", "segment"})
    by = {f.name: f for f in sig.inputs}
    assert by["home"].unknown_categories == "accept" and by["home"].accepts_unknown
    assert by["segment"].unknown_categories == "accept"
    assert by["age"].unknown_categories == "refuse"  # not a category column
    assert "or another" in by["home"].describe()
    assert Signature.from_dict(json.loads(json.dumps(sig.to_dict()))) == sig
