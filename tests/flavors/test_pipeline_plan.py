"""A fitted Pipeline replayed in NumPy answers exactly as the Pipeline, or is not planned.

Each case fits a Pipeline on a random frame of float64 numbers and text, then compares the
replay on the object array of the same rows with the Pipeline on the frame: labels and
probabilities bit for bit, on rows holding NaN and categories never seen in training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier

import modelport
from modelport.flavors.pipeline_plan import (
    LogisticRegressionReplay,
    ReplayedPipeline,
    plan_pipeline,
)
from modelport.flavors.sklearn import SklearnPredictor
from modelport.loaded import load_model, mixed_predictor
from modelport.registry import Registry
from modelport.schema import infer_signature
from modelport.settings import Settings
from modelport.training_sample import write_sample

NUMBERS = [f"n{i}" for i in range(5)]
TEXT = ["colour", "size"]
LEVELS = {"colour": ["red", "green", "blue"], "size": ["s", "m", "l", "xl"]}
COLUMNS = [*NUMBERS, *TEXT]


def arrays(n: int, seed: int, *, unknown: bool = False, nan: bool = False) -> dict[str, Any]:
    """Each column as the validated arrays a batch is made of: float64 numbers, str text."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for j, name in enumerate(NUMBERS):
        values = rng.normal(loc=j, scale=1 + j, size=n)
        if nan:
            values[rng.random(n) < 0.2] = np.nan
        out[name] = values
    for name in TEXT:
        levels = [*LEVELS[name], "never-seen"] if unknown else LEVELS[name]
        out[name] = np.array(rng.choice(levels, n).tolist(), dtype=object)
    return out


def frame_of(columns: dict[str, Any]) -> pd.DataFrame:
    """The frame the server would build of them (``schema.columns.assemble``)."""
    return pd.DataFrame(columns, columns=COLUMNS, index=pd.RangeIndex(len(columns[COLUMNS[0]])))


def matrix_of(columns: dict[str, Any]) -> np.ndarray:
    """The object array the replay reads: what ``schema.columns.mixed_matrix`` builds."""
    n = len(columns[COLUMNS[0]])
    out = np.empty((n, len(COLUMNS)), dtype=object)
    for j, name in enumerate(COLUMNS):
        out[:, j] = columns[name]
    return out


def to_frame(matrix: np.ndarray) -> pd.DataFrame:
    return frame_of(
        {
            name: matrix[:, j].astype(np.float64) if name in NUMBERS else matrix[:, j].copy()
            for j, name in enumerate(COLUMNS)
        }
    )


def labels_of(columns: dict[str, Any]) -> np.ndarray:
    score = np.nan_to_num(columns["n0"]) - np.nan_to_num(columns["n1"]) / 2
    return (score + (columns["colour"] == "red") > 0.4).astype(int)


def replayed(pipeline: Any) -> ReplayedPipeline | None:
    twin = SklearnPredictor(pipeline).for_mixed_arrays(COLUMNS, frozenset(NUMBERS), to_frame)
    assert twin is None or isinstance(twin, ReplayedPipeline)
    return twin


def assert_same(pipeline: Any, columns: dict[str, Any]) -> None:
    twin = replayed(pipeline)
    assert twin is not None, "no plan"
    frame, matrix = frame_of(columns), matrix_of(columns)
    expected = pipeline.predict(frame)
    got = twin.predict(matrix)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    if hasattr(pipeline, "predict_proba"):
        proba = twin.predict_proba(matrix)
        assert proba is not None
        assert np.array_equal(proba, pipeline.predict_proba(frame))  # bit for bit
    assert twin.fallbacks == 0  # the replay answered, not the Pipeline


def numbers_and_text(numbers: Any, text: Any, **options: Any) -> ColumnTransformer:
    return ColumnTransformer([("num", numbers, NUMBERS), ("cat", text, TEXT)], **options)


TRAIN = arrays(600, seed=1)
TRAIN_NAN = arrays(600, seed=2, nan=True)


@pytest.mark.parametrize(
    "scaler",
    [
        StandardScaler(),
        StandardScaler(with_mean=False),
        MinMaxScaler(),
        MinMaxScaler(feature_range=(-1, 2), clip=True),
        RobustScaler(),
        RobustScaler(with_centering=False),
        MaxAbsScaler(),
    ],
    ids=repr,
)
@pytest.mark.parametrize("sparse_threshold", [0.0, 0.3, 1.0])  # dense and sparse outputs
def test_scalers_and_one_hot_answer_bit_for_bit_with_unknown_categories(
    scaler: Any, sparse_threshold: float
) -> None:
    pipeline = make_pipeline(
        numbers_and_text(
            scaler, OneHotEncoder(handle_unknown="ignore"), sparse_threshold=sparse_threshold
        ),
        LogisticRegression(max_iter=500),
    ).fit(frame_of(TRAIN), labels_of(TRAIN))
    assert pipeline[0].sparse_output_ == (sparse_threshold == 1.0)
    for rows in (1, 7, 300):
        assert_same(pipeline, arrays(rows, seed=rows, unknown=True))


def test_a_dense_one_hot_and_a_float32_encoding_answer_bit_for_bit() -> None:
    pipeline = make_pipeline(
        numbers_and_text(
            StandardScaler(),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32),
        ),
        LogisticRegression(max_iter=500),
    ).fit(frame_of(TRAIN), labels_of(TRAIN))
    assert_same(pipeline, arrays(100, seed=3, unknown=True))


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent", "constant"])
def test_nan_imputed_in_a_nested_pipeline_answers_bit_for_bit(strategy: str) -> None:
    pipeline = make_pipeline(
        numbers_and_text(
            make_pipeline(SimpleImputer(strategy=strategy, fill_value=-3.5), StandardScaler()),
            make_pipeline(
                SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
            ),
        ),
        LogisticRegression(max_iter=500),
    ).fit(frame_of(TRAIN_NAN), labels_of(TRAIN_NAN))
    assert_same(pipeline, arrays(200, seed=4, nan=True, unknown=True))


def test_ordinal_codes_with_unknowns_and_a_forest_answer_bit_for_bit() -> None:
    pipeline = make_pipeline(
        numbers_and_text(
            "passthrough",
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
        ),
        RandomForestClassifier(n_estimators=15, random_state=0),
    ).fit(frame_of(TRAIN), labels_of(TRAIN))
    twin = replayed(pipeline)
    assert twin is not None and type(twin.final).__name__ == "ForestWalker"
    assert_same(pipeline, arrays(150, seed=5, unknown=True))


@pytest.mark.parametrize("remainder", ["passthrough", "drop", StandardScaler()], ids=str)
def test_remainder_answers_bit_for_bit(remainder: Any) -> None:
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), TEXT),
                ("few", MinMaxScaler(), ["n0"]),
            ],
            remainder=remainder,
        ),
        DecisionTreeClassifier(max_depth=6, random_state=0),
    ).fit(frame_of(TRAIN), labels_of(TRAIN))
    assert_same(pipeline, arrays(120, seed=6, unknown=True))


def test_a_regressor_and_steps_after_the_column_transformer_answer_bit_for_bit() -> None:
    pipeline = make_pipeline(
        numbers_and_text(RobustScaler(), OneHotEncoder(sparse_output=False)),
        StandardScaler(),
        Ridge(alpha=0.3),
    ).fit(frame_of(TRAIN), TRAIN["n0"] * 2.0)
    assert_same(pipeline, arrays(90, seed=7))


def test_a_pipeline_on_numbers_only_is_replayed_on_the_float_array() -> None:
    numbers = {name: TRAIN[name] for name in NUMBERS}
    frame = pd.DataFrame(numbers)
    pipeline = make_pipeline(StandardScaler(), MaxAbsScaler(), LogisticRegression()).fit(
        frame, labels_of(TRAIN)
    )
    twin = SklearnPredictor(pipeline).for_arrays(NUMBERS)
    assert isinstance(twin, ReplayedPipeline)
    array = np.asfortranarray(frame.to_numpy())
    proba = twin.predict_proba(array)
    assert proba is not None and np.array_equal(proba, pipeline.predict_proba(frame))


@pytest.mark.parametrize("classes", [2, 3, 4])
def test_logistic_regression_probabilities_are_its_own_bit_for_bit(classes: int) -> None:
    labels = (np.nan_to_num(TRAIN["n0"]) * 3).astype(int) % classes
    pipeline = make_pipeline(
        numbers_and_text(StandardScaler(), OneHotEncoder(handle_unknown="ignore")),
        LogisticRegression(max_iter=500, C=0.7),
    ).fit(frame_of(TRAIN), labels)
    twin = replayed(pipeline)
    assert twin is not None and isinstance(twin.final, LogisticRegressionReplay)
    for rows in (1, 2, 33, 400):
        assert_same(pipeline, arrays(rows, seed=100 + rows, unknown=True))


def test_rows_logistic_regression_refuses_go_to_it() -> None:
    model = LogisticRegression().fit(frame_of(TRAIN)[NUMBERS].to_numpy(), labels_of(TRAIN))
    replay = LogisticRegressionReplay(model)
    rows = np.ascontiguousarray(frame_of(TRAIN)[NUMBERS].to_numpy()[:4])
    rows[1, 2] = np.nan
    with pytest.raises(modelport.errors.PredictionError, match="NaN"):
        replay.predict_proba(rows)  # its own refusal, not NaN probabilities


@pytest.mark.parametrize(
    "pipeline",
    [
        make_pipeline(
            numbers_and_text(FunctionTransformer(np.tanh), OneHotEncoder()), LogisticRegression()
        ),
        make_pipeline(
            numbers_and_text(StandardScaler(), OneHotEncoder(drop="first")), LogisticRegression()
        ),
        make_pipeline(
            numbers_and_text(StandardScaler(), OneHotEncoder(min_frequency=50)),
            LogisticRegression(),
        ),
        make_pipeline(
            ColumnTransformer(
                [
                    ("num", StandardScaler(), make_column_selector(dtype_include="number")),
                    ("cat", OneHotEncoder(), TEXT),
                ]
            ),
            LogisticRegression(),
        ),
        make_pipeline(
            numbers_and_text(StandardScaler(), OneHotEncoder(), transformer_weights={"num": 2}),
            LogisticRegression(),
        ),
        make_pipeline(
            numbers_and_text(StandardScaler(), OneHotEncoder(sparse_output=False)).set_output(
                transform="pandas"
            ),
            LogisticRegression(),
        ),
        make_pipeline(
            ColumnTransformer([("cat", "passthrough", TEXT)], remainder=StandardScaler()),
            OneHotEncoder(),
            LogisticRegression(),
        ),
    ],
    ids=["function", "drop", "infrequent", "callable", "weights", "pandas", "text-through"],
)
def test_an_unknown_step_or_configuration_gives_no_plan(pipeline: Any) -> None:
    pipeline.fit(frame_of(TRAIN), labels_of(TRAIN))
    assert replayed(pipeline) is None
    assert (
        plan_pipeline(
            LogisticRegression().fit(frame_of(TRAIN)[NUMBERS], labels_of(TRAIN)),
            COLUMNS,
            frozenset(NUMBERS),
        )
        is None
    )


def test_batches_outside_the_plan_are_answered_by_the_pipeline() -> None:
    strict = make_pipeline(
        numbers_and_text(StandardScaler(), OneHotEncoder()), LogisticRegression(max_iter=500)
    ).fit(frame_of(TRAIN), labels_of(TRAIN))
    twin = replayed(strict)
    assert twin is not None
    unknown = matrix_of(arrays(5, seed=8, unknown=True))
    unknown[0, COLUMNS.index("colour")] = "never-seen"
    with pytest.raises(modelport.errors.PredictionError, match="unknown categories"):
        twin.predict_proba(unknown)  # the Pipeline's own refusal, not a made-up answer
    assert twin.fallbacks == 1
    missing = arrays(6, seed=9)
    missing["size"][2] = None  # a null text: the Pipeline's frame holds NaN there
    lenient = make_pipeline(
        numbers_and_text(StandardScaler(), OneHotEncoder(handle_unknown="ignore")),
        LogisticRegression(max_iter=500),
    ).fit(frame_of(TRAIN), labels_of(TRAIN))
    twin = replayed(lenient)
    assert twin is not None
    proba = twin.predict_proba(matrix_of(missing))
    assert twin.fallbacks == 1
    assert proba is not None and np.array_equal(proba, lenient.predict_proba(frame_of(missing)))


class _Nudged(SklearnPredictor):
    """A real Pipeline whose replay is of a slightly different Pipeline."""

    def __init__(self, pipeline: Any, other: Any) -> None:
        super().__init__(pipeline)
        self._other = SklearnPredictor(other)

    def for_mixed_arrays(self, columns: Any, numbers: Any, to_frame: Any) -> Any:
        return self._other.for_mixed_arrays(columns, numbers, to_frame)


def test_a_replay_that_answers_otherwise_on_the_kept_rows_is_refused(tmp_path: Path) -> None:
    frame = frame_of(TRAIN)
    pipeline = make_pipeline(
        numbers_and_text(StandardScaler(), OneHotEncoder()), LogisticRegression(max_iter=500)
    ).fit(frame, labels_of(TRAIN))
    other = make_pipeline(
        numbers_and_text(StandardScaler(), OneHotEncoder()), LogisticRegression(max_iter=500)
    ).fit(frame, labels_of(TRAIN))
    other[-1].intercept_ = other[-1].intercept_ + 1e-12
    signature = infer_signature(frame)
    assert mixed_predictor(_Nudged(pipeline, pipeline), signature, tmp_path) is None  # no rows
    write_sample(frame, tmp_path)
    assert mixed_predictor(_Nudged(pipeline, other), signature, tmp_path) is None
    assert mixed_predictor(_Nudged(pipeline, pipeline), signature, tmp_path) is not None


def test_the_bench_pipeline_is_served_by_its_replay(tmp_path: Path) -> None:
    """bench/serving's ``pipeline`` case: StandardScaler on 16 numbers, OneHotEncoder
    (unknowns ignored) on 4 text columns, LogisticRegression, fitted on a frame."""
    rng = np.random.default_rng(10)
    numeric = [f"n{i}" for i in range(16)]
    mixed = pd.DataFrame(rng.normal(size=(2000, 16)), columns=numeric)
    text = [f"c{j}" for j in range(4)]
    for name in text:
        mixed[name] = np.asarray(list("abcde"), dtype=object)[rng.integers(0, 5, len(mixed))]
    y = (mixed["n0"] + (mixed["c0"] == "a") > 0.5).astype(int).to_numpy()
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore"), text),
            ]
        ),
        LogisticRegression(max_iter=1000),
    ).fit(mixed, y)
    settings = Settings(home=tmp_path / "home", user="tester")
    modelport.register(pipeline, "bench-pipeline", sample=mixed, settings=settings)
    model = load_model(Registry(settings), "bench-pipeline")
    assert model.on_mixed_arrays is not None and model.on_arrays is None
    records = [
        {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
        for row in mixed.head(40).astype(object).to_dict(orient="records")
    ]
    records[3]["c2"] = "never-seen"
    prepared = model.prepare(records)
    assert isinstance(prepared, np.ndarray) and prepared.shape == (40, 20)
    expected_frame = mixed.head(40).copy()
    expected_frame.loc[3, "c2"] = "never-seen"
    assert np.array_equal(model.predict_proba(records), pipeline.predict_proba(expected_frame))
    assert model.predict(records).tolist() == pipeline.predict(expected_frame).tolist()
    assert model.on_mixed_arrays.fallbacks == 0  # type: ignore[attr-defined]


def test_a_pipeline_with_integer_columns_is_replayed_through_the_api(tmp_path: Path) -> None:
    """The demo's kind of model: an integer age and a float income scaled, text one-hot
    encoded (strict), an integer count passed through, a LogisticRegression.

    The object array holds what the frame holds, typed alike for its readers (the
    prediction log converts it column by column to Arrow)."""
    rng = np.random.default_rng(11)
    n = 1500
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": np.round(rng.lognormal(10.8, 0.4, n), 2),
            "home": rng.choice(["rent", "own", "mortgage"], n).astype(object),
            "children": rng.integers(0, 4, n),
        }
    )
    y = ((frame["age"] - 45) / 15 + (frame["home"] == "rent") > 0.3).astype(int).to_numpy()
    pipeline = make_pipeline(
        ColumnTransformer(
            [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["home"])],
            remainder="passthrough",
        ),
        LogisticRegression(max_iter=500),
    ).fit(frame, y)
    settings = Settings(home=tmp_path / "home", user="tester")
    modelport.register(pipeline, "credit", sample=frame, settings=settings)
    model = load_model(Registry(settings), "credit")
    assert model.on_mixed_arrays is not None
    test = frame.sample(60, random_state=0).reset_index(drop=True)
    records = [
        {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
        for row in test.astype(object).to_dict(orient="records")
    ]
    prepared = model.prepare(records)
    for j, name in enumerate(test.columns):
        assert pa.array(prepared[:, j]).type == pa.array(test[name].to_numpy()).type, name
    assert np.array_equal(model.predict_proba(records), pipeline.predict_proba(test))
    assert model.predict(records).tolist() == pipeline.predict(test).tolist()
    assert model.on_mixed_arrays.fallbacks == 0  # type: ignore[attr-defined]
