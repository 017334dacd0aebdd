"""Per request, plain columns; per batch, one model-ready input.

``validate_columns`` must give NumPy arrays (never a DataFrame), and ``assemble`` of many
requests' columns must be exactly what ``validate`` gives for all their rows at once: the
training dtypes, categories and column order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.errors import ValidationError
from modelport.schema import infer_signature, validate
from modelport.schema.columns import Columns, assemble
from modelport.schema.validation import validate_columns

TRAIN = pd.DataFrame(
    {
        "age": np.array([31, 45, 52, 23], dtype=np.int64),
        "income": [52000.0, np.nan, 71000.5, 30000.0],
        "ratio": np.array([0.5, 0.25, 0.125, 1.0], dtype=np.float32),
        "home": ["rent", "own", "rent", "mortgage"],
        "grade": pd.Categorical(["a", "b", "a", "c"], categories=["a", "b", "c"]),
        "active": [True, False, True, True],
        "seen": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]),
    }
)
SIG = infer_signature(TRAIN)
NUMERIC = infer_signature(
    pd.DataFrame(np.arange(40.0).reshape(2, 20), columns=list("abcdefghijklmnopqrst"))
)


def test_a_request_gives_numpy_columns_not_a_frame() -> None:
    cols = validate_columns(SIG, TRAIN.iloc[:2].to_dict(orient="records"))
    assert isinstance(cols, Columns) and len(cols) == 2
    assert not isinstance(cols, pd.DataFrame)
    assert isinstance(cols.numbers, np.ndarray) and cols.numbers.shape == (2, 3)
    assert all(isinstance(v, np.ndarray) for v in cols.others.values())
    # a category column travels as its codes; the frame's Categorical is built per batch
    assert cols.others["grade"].dtype.kind == "i" and cols.others["grade"].tolist() == [0, 1]


def test_one_numeric_record_takes_the_fast_path_to_one_row_of_numbers() -> None:
    record = {name: float(i) for i, name in enumerate(NUMERIC.names)}
    cols = validate_columns(NUMERIC, [record])
    assert cols.numbers.shape == (1, 20) and cols.numbers.dtype == np.float64
    assert cols.numbers[0].tolist() == [float(i) for i in range(20)]
    assert cols.others == {}


@pytest.mark.parametrize("rows", [[[0], [1, 2], [3]], [[0, 1, 2, 3]], [[2], [0], [1], [3]]])
def test_assembled_batches_equal_validate_of_all_their_rows(rows: list[list[int]]) -> None:
    records = TRAIN.to_dict(orient="records")
    parts = [validate_columns(SIG, [records[i] for i in request]) for request in rows]
    batch = assemble(SIG, parts)
    order = [i for request in rows for i in request]
    expected = validate(SIG, [records[i] for i in order])
    pd.testing.assert_frame_equal(batch, expected, check_exact=True)
    assert batch["age"].dtype == np.int64 and batch["ratio"].dtype == np.float32
    assert isinstance(batch["grade"].dtype, pd.CategoricalDtype)
    assert list(batch["grade"].cat.categories) == ["a", "b", "c"]
    pd.testing.assert_frame_equal(
        validate(SIG, TRAIN.iloc[order].reset_index(drop=True)), expected, check_exact=True
    )


def test_an_integer_column_with_a_null_in_one_request_is_float_in_the_batch() -> None:
    sig = infer_signature(pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64")}))
    parts = [validate_columns(sig, [{"n": 2}]), validate_columns(sig, [{"n": None}])]
    batch = assemble(sig, parts)
    assert batch["n"].dtype == np.float64 and batch["n"].isna().tolist() == [False, True]


def test_errors_name_the_field_and_the_row_on_the_columns_path() -> None:
    record = {name: 1.0 for name in NUMERIC.names}
    bad = [record, {**record, "c": "high"}, {**record, "h": None}, {**record, "e": True}]
    with pytest.raises(ValidationError) as info:
        validate_columns(NUMERIC, bad)
    found = {(p.field, p.kind, tuple(p.rows or ())) for p in info.value.problems}
    assert found == {("c", "type", (1,)), ("h", "null", (2,)), ("e", "type", (3,))}
    with pytest.raises(ValidationError) as info:
        validate_columns(NUMERIC, [{**record, "u": 1.0}])
    assert {(p.field, p.kind) for p in info.value.problems} == {("u", "unknown")}
    with pytest.raises(ValidationError) as info:
        validate_columns(NUMERIC, [{k: v for k, v in record.items() if k != "q"}])
    assert {(p.field, p.kind) for p in info.value.problems} == {("q", "missing")}


def test_unknown_and_null_categories_on_the_fast_path_fall_to_the_named_error() -> None:
    sig = infer_signature(
        pd.DataFrame({"x": [1.0, 2.0], "k": pd.Categorical(["u", "v"]), "s": ["p", "q"]})
    )
    ok = validate_columns(sig, [{"x": 1.0, "k": "v", "s": "q"}])
    assert ok.others["k"].tolist() == [1] and ok.others["s"].tolist() == ["q"]
    for bad, kind in (({"k": "w"}, "category"), ({"k": None}, "null"), ({"s": "z"}, "category")):
        with pytest.raises(ValidationError) as info:
            validate_columns(sig, [{"x": 1.0, "k": "v", "s": "q", **bad}])
        assert [p.kind for p in info.value.problems] == [kind]


def test_an_array_signature_keeps_its_two_dimensional_array() -> None:
    sig = infer_signature(np.zeros((3, 4)))
    parts = [validate_columns(sig, [[1.0, 2.0, 3.0, 4.0]]), validate_columns(sig, [[5.0] * 4] * 2)]
    batch = assemble(sig, parts)
    assert isinstance(batch, np.ndarray) and batch.shape == (3, 4)
    assert batch.tolist() == [[1.0, 2.0, 3.0, 4.0], [5.0] * 4, [5.0] * 4]


def test_categories_a_model_copes_with_pass_unknown_text_as_the_general_path_does() -> None:
    sample = pd.DataFrame({"x": [1.0, 2.0], "k": pd.Categorical(["u", "v"]), "s": ["p", "q"]})
    sig = infer_signature(sample, accept_unknown=("k", "s"))
    records = [{"x": 1.0, "k": "new", "s": "other"}, {"x": 2.0, "k": "v", "s": "p"}]
    fast = validate_columns(sig, records)
    assert fast.others["k"].tolist() == [-1, 1] and fast.others["s"].tolist() == ["other", "p"]
    general = validate(sig, pd.DataFrame(records))  # a frame never takes the records path
    pd.testing.assert_frame_equal(assemble(sig, [fast]), general, check_exact=True)
    with pytest.raises(ValidationError) as info:  # still one value per field, and not null
        validate_columns(sig, [{"x": 1.0, "k": None, "s": "p"}])
    assert [(p.field, p.kind) for p in info.value.problems] == [("k", "null")]
