"""Numbers are numbers: booleans, text and lists where a number (or any one value) belongs."""

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
        "opened": pd.to_datetime(["2020-01-01", "2021-05-02", "2019-03-04", "2022-07-08"]),
    }
)
SIG = infer_signature(TRAIN)
ARRAY_SIG = infer_signature(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
GOOD = {
    "age": 40,
    "income": 1.5,
    "home": "own",
    "active": True,
    "opened": "2020-01-01",
}


def refused(signature: object, data: object) -> dict[str, tuple[str, list[int] | None, str]]:
    with pytest.raises(ValidationError) as info:
        validate(signature, data)  # type: ignore[arg-type]
    return {p.field: (p.kind, p.rows, p.detail) for p in info.value.problems}


def test_signature_kinds_are_what_the_tests_assume() -> None:
    kinds = {f.name: f.kind for f in SIG.inputs}
    assert kinds["age"] == "integer" and kinds["income"] == "float"
    assert kinds["home"] == "category" and kinds["opened"] == "datetime"


@pytest.mark.parametrize(("field", "value"), [("age", True), ("income", "14.2"), ("age", "40")])
def test_booleans_and_text_are_not_numbers_in_records(field: str, value: object) -> None:
    records = [GOOD, {**GOOD, field: value}]
    kind, rows, detail = refused(SIG, records)[field]
    assert kind == "type" and rows == [1]
    assert ("boolean" if isinstance(value, bool) else "text") in detail


def test_booleans_and_text_are_not_numbers_in_columns_and_frames() -> None:
    columns = {k: [v, v] for k, v in GOOD.items()}
    assert refused(SIG, {**columns, "income": [1.0, False]})["income"][:2] == ("type", [1])
    frame = pd.DataFrame([GOOD, GOOD]).assign(income=[True, False])
    assert refused(SIG, frame)["income"][:2] == ("type", [0, 1])
    frame = pd.DataFrame([GOOD, GOOD]).assign(income=pd.Series([1.5, True], dtype=object))
    assert refused(SIG, frame)["income"][:2] == ("type", [1])


def test_text_in_a_table_column_is_how_numbers_are_written_there() -> None:
    # a CSV read as text (batch scoring) or a DataFrame of strings: parsed, bad text named
    frame = pd.DataFrame([GOOD, GOOD, GOOD]).assign(age=["31", "40", "old"])
    assert refused(SIG, frame)["age"][:2] == ("type", [2])
    out = validate(SIG, frame.assign(age=["31", "40", "7"], income=["1.5", None, "2"]))
    assert out["age"].tolist() == [31, 40, 7] and out["income"].tolist()[::2] == [1.5, 2.0]


def test_booleans_and_text_are_not_numbers_for_array_models() -> None:
    assert refused(ARRAY_SIG, [[1.0, True, 3.0]])["f1"][:2] == ("type", [0])
    assert refused(ARRAY_SIG, [[1.0, 2.0, "3.5"], [1.0, 2.0, 3.0]])["f2"][:2] == ("type", [0])
    assert refused(ARRAY_SIG, [1.0, 2.0, False])["f2"][:2] == ("type", [0])
    assert set(refused(ARRAY_SIG, np.array([[True, False, True]]))) == {"f0", "f1", "f2"}
    assert set(refused(ARRAY_SIG, np.array([["1", "2", "3"]]))) == {"f0", "f1", "f2"}


def test_numbers_of_every_python_and_numpy_type_still_pass() -> None:
    out = validate(ARRAY_SIG, [[1, 2.5, np.float32(3)], [np.int64(4), 5, 6.0]])
    assert out.tolist() == [[1.0, 2.5, 3.0], [4.0, 5.0, 6.0]]
    out = validate(ARRAY_SIG, np.array([[1, 2, 3]], dtype=np.int32))
    assert out.tolist() == [[1.0, 2.0, 3.0]]
    frame = validate(SIG, [{**GOOD, "income": None}, {**GOOD, "age": np.int64(3)}])
    assert np.isnan(frame.loc[0, "income"]) and frame.loc[1, "age"] == 3


@pytest.mark.parametrize("field", list(GOOD))
@pytest.mark.parametrize("value", [["north"], {"a": 1}, []])
def test_a_list_or_object_where_one_value_belongs_is_named(field: str, value: object) -> None:
    kind, rows, detail = refused(SIG, [GOOD, {**GOOD, field: value}])[field]
    assert (kind, rows) == ("type", [1])
    assert "not a list or object" in detail


def test_a_list_where_one_value_belongs_in_rows_of_an_array_model() -> None:
    kind, rows, detail = refused(ARRAY_SIG, [[1.0, [2.0], 3.0]])["f1"]
    assert (kind, rows) == ("type", [0]) and "not a list or object" in detail


@pytest.mark.parametrize("n_rows", [3, 300])  # both the per-value and the vectorised path
def test_a_list_is_refused_even_where_unknown_categories_are_accepted(n_rows: int) -> None:
    tolerant = infer_signature(TRAIN, accept_unknown=["home"])
    frame = pd.DataFrame([GOOD] * n_rows)
    frame["home"] = pd.Series(["own"] * (n_rows - 1) + [["north"]], dtype=object)
    kind, rows, detail = refused(tolerant, frame)["home"]
    assert (kind, rows) == ("type", [n_rows - 1]) and "not a list or object" in detail
    assert validate(tolerant, [{**GOOD, "home": "castle"}] * n_rows)["home"].iloc[0] == "castle"
