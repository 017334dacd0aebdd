from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.errors import ValidationError
from modelport.schema import infer_signature, validate

TRAIN = pd.DataFrame(
    {
        "age": [31, 45, 52, 23],
        "income": [52000.0, np.nan, 71000.5, 30000.0],
        "home": ["rent", "own", "rent", "mortgage"],
        "active": [True, False, True, True],
    }
)
SIG = infer_signature(TRAIN)


def problems(data: object, **kw: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        validate(SIG, data, **kw)
    return {p.field: p.kind for p in info.value.problems}


def test_records_rows_columns_frames_all_give_the_training_frame() -> None:
    records = TRAIN.to_dict(orient="records")
    rows = TRAIN.values.tolist()
    columns = TRAIN.to_dict(orient="list")
    for data in (records, rows, columns, TRAIN):
        out = validate(SIG, data)
        assert isinstance(out, pd.DataFrame)
        assert list(out.columns) == SIG.names
        assert out["age"].dtype == np.int64
        pd.testing.assert_frame_equal(out, TRAIN, check_dtype=False)
    one = validate(SIG, records[0])
    assert len(one) == 1 and one.loc[0, "home"] == "rent"


def test_coercion_of_lax_but_unambiguous_values() -> None:
    out = validate(SIG, [{"age": 40.0, "income": None, "home": "own", "active": "false"}])
    assert out.loc[0, "age"] == 40 and np.isnan(out.loc[0, "income"])
    assert out.loc[0, "active"] is False or out.loc[0, "active"] == False  # noqa: E712


def test_every_bad_field_is_named_in_one_error() -> None:
    bad = {"age": "old", "income": 1.0, "home": "castle", "active": "maybe", "incme": 3}
    assert problems([bad]) == {
        "age": "type",
        "home": "category",
        "active": "type",
        "incme": "unknown",
    }
    with pytest.raises(ValidationError) as info:
        validate(SIG, [bad])
    message = str(info.value)
    assert "'castle'" in message and "did you mean 'income'" in message


def test_missing_null_and_fractional_values() -> None:
    assert problems([{"income": 1.0, "home": "own", "active": True}]) == {"age": "missing"}
    assert problems([{"age": None, "income": 1.0, "home": "own", "active": True}]) == {
        "age": "null"
    }
    assert problems([{"age": 3.5, "income": 1.0, "home": "own", "active": True}]) == {"age": "type"}
    # income was nullable in training: an absent key is a null, not an error
    out = validate(SIG, [{"age": 3, "home": "own", "active": True}])
    assert np.isnan(out.loc[0, "income"])


def test_rows_of_the_wrong_length_and_unreadable_shapes() -> None:
    assert problems([[1, 2.0]]) == {"*": "shape"}
    assert problems("a string") == {"*": "shape"}
    assert problems(42) == {"*": "shape"}
    assert problems({"age": [1, 2], "income": [1.0]}) == {"*": "shape"}


def test_rows_with_problems_are_listed() -> None:
    data = TRAIN.to_dict(orient="records") * 2
    data[5] = {**data[5], "home": "boat"}
    with pytest.raises(ValidationError) as info:
        validate(SIG, data)
    assert info.value.problems[0].rows == [5]


def test_extra_columns_can_be_ignored_for_batch() -> None:
    frame = TRAIN.assign(customer_id=range(4))
    assert problems(frame) == {"customer_id": "unknown"}
    assert list(validate(SIG, frame, extra="ignore").columns) == SIG.names


def test_unknown_categories_can_be_allowed_explicitly() -> None:
    lenient = infer_signature(TRAIN, allow_unknown_categories=True)
    out = validate(lenient, [{"age": 1, "income": 2.0, "home": "castle", "active": True}])
    assert out.loc[0, "home"] == "castle"


def test_ndarray_signatures_take_rows_fast_and_check_shape_and_nulls() -> None:
    sig = infer_signature(np.random.default_rng(0).normal(size=(10, 3)))
    out = validate(sig, [[1, 2, 3], [4, 5, 6]])
    assert isinstance(out, np.ndarray) and out.shape == (2, 3) and out.dtype == np.float64
    assert validate(sig, [1, 2, 3]).shape == (1, 3)
    with pytest.raises(ValidationError) as info:
        validate(sig, [[1, 2]])
    assert info.value.problems[0].kind == "shape"
    with pytest.raises(ValidationError) as info:
        validate(sig, [[1, None, 3]])
    assert info.value.problems[0].field == "f1" and info.value.problems[0].kind == "null"
    with pytest.raises(ValidationError):
        validate(sig, [[1, "x", 3]])
    named = validate(sig, [{"f0": 1, "f1": 2, "f2": 3}])
    assert named.tolist() == [[1.0, 2.0, 3.0]]


def test_category_dtype_keeps_training_codes() -> None:
    train = pd.DataFrame({"c": pd.Categorical(["x", "y"], categories=["y", "x", "z"])})
    sig = infer_signature(train)
    out = validate(sig, [{"c": "z"}, {"c": "x"}])
    assert list(out["c"].cat.categories) == ["y", "x", "z"]
    assert out["c"].cat.codes.tolist() == [2, 1]


def test_large_batches_use_vectorised_category_checks() -> None:
    big = pd.concat([TRAIN] * 1000, ignore_index=True)
    big.loc[1234, "home"] = "igloo"
    with pytest.raises(ValidationError) as info:
        validate(SIG, big)
    assert info.value.problems[0].rows == [1234]


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), 1e400])
def test_infinity_is_refused_naming_the_field(bad: float) -> None:
    row = {"age": 30, "income": bad, "home": "rent", "active": True}
    assert problems([row]) == {"income": "type"}


def test_infinity_is_refused_on_the_array_fast_path() -> None:
    sig = infer_signature(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(ValidationError):
        validate(sig, [[1.0, float("inf")]])
