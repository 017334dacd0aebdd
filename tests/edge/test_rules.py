"""The runner's rules are the server's: the same records refused with the same problems."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.edge import rules_document
from modelport.edge.runner import Rules
from modelport.errors import UnsupportedModel, ValidationError
from modelport.schema import Signature, infer_signature, validate


@pytest.fixture(scope="module")
def signature() -> Signature:
    rows = 1_100  # more distinct notes than a category may have: free text
    rng = np.random.default_rng(0)
    amount = rng.normal(100, 20, rows)
    amount[::7] = np.nan
    frame = pd.DataFrame(
        {
            "amount": amount,
            "count": rng.integers(0, 9, rows),
            "flag": rng.integers(0, 2, rows).astype(bool),
            "color": rng.choice(["red", "green", "blue"], rows),
            "note": [f"note {i}" for i in range(rows)],
            "size": rng.choice(["S", "M", "L"], rows),
        }
    )
    return infer_signature(frame, accept_unknown={"size"})


GOOD = {"amount": 1.5, "count": 3, "flag": True, "color": "red", "note": "hi", "size": "M"}

REFUSED: list[dict[str, Any]] = [
    {**GOOD, "amount": "12"},
    {**GOOD, "amount": True},
    {**GOOD, "amount": math.inf},
    {**GOOD, "amount": {"value": 1}},
    {**GOOD, "count": 2.5},
    {**GOOD, "count": None},
    {**GOOD, "count": False},
    {**GOOD, "count": [1, 2]},
    {k: v for k, v in GOOD.items() if k != "count"},
    {**GOOD, "flag": "maybe"},
    {**GOOD, "flag": 2},
    {**GOOD, "flag": 1.0},
    {**GOOD, "flag": None},
    {**GOOD, "color": "purple"},
    {**GOOD, "color": ["red"]},
    {**GOOD, "color": None},
    {**GOOD, "note": 5},
    {**GOOD, "size": {"a": 1}},
    {**GOOD, "colour": "red"},
    {**GOOD, "zzz": 1},
    {"amount": "x", "count": 1.5, "flag": "nope", "colr": 3, "size": ["S"]},
]

ACCEPTED: list[dict[str, Any]] = [
    GOOD,
    {**GOOD, "amount": None},
    {k: v for k, v in GOOD.items() if k != "amount"},  # nullable: may be absent
    {**GOOD, "amount": 7},
    {**GOOD, "count": 4.0},
    {**GOOD, "flag": "yes"},
    {**GOOD, "flag": 0},
    {**GOOD, "size": "XXL"},  # the model's encoder copes with new sizes
    {**GOOD, "amount": 1e6},  # far outside the training range: valid, as on the server
]


@pytest.mark.parametrize(
    "record", REFUSED, ids=lambda r: ",".join(f"{k}={v!r}" for k, v in r.items())[:60]
)
def test_a_record_the_server_refuses_is_refused_with_the_same_problems(
    signature: Signature, record: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as info:
        validate(signature, [record])
    server = [(p.field, p.kind, p.detail) for p in info.value.problems]
    row, problems = Rules(rules_document(signature, None, "m:1")).check(record)
    assert row is None
    assert [(p.field, p.kind, p.detail) for p in problems] == server


@pytest.mark.parametrize(
    "record", ACCEPTED, ids=lambda r: ",".join(f"{k}={v!r}" for k, v in r.items())[:60]
)
def test_a_record_the_server_accepts_is_accepted_with_the_same_values(
    signature: Signature, record: dict[str, Any]
) -> None:
    frame = validate(signature, [record])
    row, problems = Rules(rules_document(signature, None, "m:1")).check(record)
    assert problems == [] and row is not None
    for name in signature.names:
        expected, got = frame[name].iloc[0], row[name]
        if isinstance(expected, float) and math.isnan(expected):
            assert got is None or math.isnan(got)
        else:
            assert got == expected, name


def test_a_row_in_signature_order_is_read_like_a_record(signature: Signature) -> None:
    rules = Rules(rules_document(signature, None, "m:1"))
    row, problems = rules.check([GOOD[name] for name in signature.names])
    assert problems == [] and row == rules.check(GOOD)[0]
    row, problems = rules.check([1.0, 2])
    assert row is None and [p.kind for p in problems] == ["shape"]
    assert "6 values in the order amount, count" in problems[0].detail


def test_the_document_holds_order_types_categories_ranges_and_required(
    signature: Signature,
) -> None:
    document = rules_document(signature, ["no", "yes"], "m:1")
    features = {f["name"]: f for f in document["features"]}
    assert [f["name"] for f in document["features"]] == signature.names
    assert features["amount"]["kind"] == "float" and not features["amount"]["required"]
    assert features["count"] == {
        **features["count"],
        "kind": "integer",
        "required": True,
        "min": 0.0,
        "max": 8.0,
    }
    assert features["color"]["categories"] == ["blue", "green", "red"]
    assert features["color"]["unknown_categories"] == "refuse"
    assert features["size"]["unknown_categories"] == "accept"
    assert features["note"]["kind"] == "string" and features["note"]["categories"] is None
    assert document["outputs"]["classes"] == ["no", "yes"]
    assert document["unknown_fields"] == "refused" and "not enforced" in document["ranges"]


def test_date_time_features_are_refused_at_export() -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-02-01"]), "x": [1.0, 2.0]})
    with pytest.raises(UnsupportedModel, match="when") as info:
        rules_document(infer_signature(frame), None, "m:1")
    assert "numbers" in (info.value.hint or "")
