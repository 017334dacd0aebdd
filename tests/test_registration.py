"""Registration through the Python API: what the sample and the model make of the signature."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

import modelport
from modelport.errors import DataError, InvalidReference, ValidationError
from modelport.registry import Registry
from modelport.settings import Settings


def _frame(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "city": rng.choice(["paris", "oslo", "rome"], n),
            "plan": rng.choice(["basic", "pro"], n),
        }
    )
    y = ((df["income"] > 50) ^ (df["city"] == "oslo")).astype(int).to_numpy()
    return df, y


def _versions(settings: Settings) -> list[Any]:
    registry = Registry(settings)
    try:
        return [v for m in registry.list_models() for v in registry.list_versions(m.name)]
    finally:
        registry.close()


# -- item 11: an all-null categorical column ---------------------------------------------------


def test_a_sample_with_an_all_null_column_is_refused_and_nothing_is_stored(
    settings: Settings,
) -> None:
    df, y = _frame()
    model = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), ["income"])]), LogisticRegression()
    ).fit(df, y)
    sample = df.assign(note=None)
    with pytest.raises(DataError) as info:
        modelport.register(model, "nulls", sample=sample, settings=settings)
    assert "'note'" in info.value.message and "every row is null" in info.value.message
    assert info.value.hint and "drop the column" in info.value.hint
    assert _versions(settings) == []


# -- item 14: unknown categories the model tolerates -------------------------------------------


def _pipeline(city: Any, plan: Any = "passthrough-ordinal") -> Pipeline:
    plan_step = OrdinalEncoder() if plan == "passthrough-ordinal" else plan
    return make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["income"]),
                ("city", city, ["city"]),
                ("plan", plan_step, ["plan"]),
            ]
        ),
        LogisticRegression(),
    )


@pytest.mark.parametrize(
    "city",
    [
        OneHotEncoder(handle_unknown="ignore"),
        OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=2),
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
        make_pipeline(
            SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
        ),
    ],
    ids=["onehot-ignore", "onehot-infrequent", "ordinal-encoded-value", "imputer-then-onehot"],
)
def test_a_tolerant_encoder_lets_unknown_categories_through(settings: Settings, city: Any) -> None:
    df, y = _frame()
    model = _pipeline(city).fit(df, y)
    version = modelport.register(model, "tolerant", sample=df, settings=settings)
    specs = {f["name"]: f for f in version.signature["inputs"]}
    assert specs["city"]["unknown_categories"] == "accept"
    assert specs["plan"]["unknown_categories"] == "refuse"  # a plain OrdinalEncoder fails on them

    loaded = modelport.load("tolerant", settings=settings)
    rows = df.head(3).assign(city=["lyon", "paris", "atlantis"])
    np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))
    with pytest.raises(ValidationError) as info:
        loaded.predict(df.head(1).assign(plan=["enterprise"]))
    assert [p.field for p in info.value.problems] == ["plan"]


def test_intolerant_and_shared_columns_still_refuse(settings: Settings) -> None:
    df, y = _frame()
    # city is read by a tolerant encoder and by one that fails on new values: refuse
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["income"]),
                ("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                ("city_code", OrdinalEncoder(), ["city"]),
                ("plan", OneHotEncoder(), ["plan"]),
            ]
        ),
        LogisticRegression(),
    ).fit(df, y)
    version = modelport.register(model, "strict", sample=df, settings=settings)
    assert {f["unknown_categories"] for f in version.signature["inputs"]} == {"refuse"}
    with pytest.raises(ValidationError, match="unknown category 'lyon'"):
        modelport.load("strict", settings=settings).predict(df.head(1).assign(city=["lyon"]))


def test_a_dropped_column_accepts_anything(settings: Settings) -> None:
    df, y = _frame()
    model = make_pipeline(
        ColumnTransformer(
            [("num", StandardScaler(), ["income"]), ("city", OneHotEncoder(), ["city"])],
            remainder="drop",
        ),
        LogisticRegression(),
    ).fit(df, y)
    version = modelport.register(model, "dropped", sample=df, settings=settings)
    specs = {f["name"]: f["unknown_categories"] for f in version.signature["inputs"]}
    assert specs == {"income": "refuse", "city": "refuse", "plan": "accept"}


def test_accepted_unknown_categories_are_still_unseen_for_drift(settings: Settings) -> None:
    from modelport.monitoring.drift import detect_drift
    from modelport.monitoring.profile import Profile

    df, y = _frame()
    model = _pipeline(OneHotEncoder(handle_unknown="ignore")).fit(df, y)
    version = modelport.register(model, "drifting", sample=df, settings=settings)
    current = df.assign(city=np.where(np.arange(len(df)) % 2 == 0, "lyon", df["city"]))
    modelport.load("drifting", settings=settings).predict(current)  # accepted ...
    assert version.profile is not None
    report = detect_drift(Profile.from_dict(version.profile), current).to_dict()
    city = report["features"]["city"]
    assert city["unseen_categories"] == ["lyon"]  # ... and still reported as new


def test_old_signatures_without_the_field_refuse_unknown_categories() -> None:
    from modelport.schema import Signature, infer_signature, validate

    df, _ = _frame()
    stored = infer_signature(df).to_dict()
    for spec in stored["inputs"]:
        del spec["unknown_categories"]
    signature = Signature.from_dict(stored)
    assert all(f.unknown_categories == "refuse" for f in signature.inputs)
    with pytest.raises(ValidationError):
        validate(signature, df.head(1).assign(city=["lyon"]))


# -- item 9: references through the API -------------------------------------------------------


@pytest.mark.parametrize("ref", ["bc:³", "bc:٢", "bc:²"])
def test_a_version_in_non_ascii_digits_is_an_invalid_reference(
    settings: Settings, ref: str
) -> None:
    df, y = _frame()
    model = _pipeline(OneHotEncoder()).fit(df, y)
    modelport.register(model, "bc", sample=df, settings=settings)
    with pytest.raises(InvalidReference):
        modelport.load(ref, settings=settings)


# -- item 12: a model whose predictions are not one value per row ------------------------------


def test_predictions_with_several_values_per_row_are_refused_with_what_to_do(
    settings: Settings,
) -> None:
    from sklearn.linear_model import LinearRegression

    from modelport.errors import InvalidArgument

    df, y = _frame()
    x = df[["income"]].to_numpy()
    two_outputs = LinearRegression().fit(x, np.column_stack([y, 1 - y]))
    with pytest.raises(InvalidArgument) as info:
        modelport.register(two_outputs, "multi", sample=x, settings=settings)
    assert f"shape ({len(x)}, 2)" in info.value.message
    assert info.value.hint and "Python function" in info.value.hint
    assert _versions(settings) == []


def test_training_data_naming_a_missing_file_is_a_clear_error(
    settings: Settings, tmp_path: Any
) -> None:
    df, y = _frame()
    model = _pipeline(OneHotEncoder()).fit(df, y)
    missing = tmp_path / "absent.parquet"
    with pytest.raises(DataError) as info:
        modelport.register(model, "lineage", sample=df, training_data=missing, settings=settings)
    assert str(missing) in info.value.message
    assert _versions(settings) == []
