"""The out-of-distribution scorer: a pure function of a profile and a batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.monitoring.outliers import (
    EXTREME,
    OK,
    OUT,
    OutlierScorer,
    logged_share,
    scorer_for,
)
from modelport.monitoring.profile import build_profile


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 20_000
    return pd.DataFrame(
        {
            "age": rng.uniform(18, 90, n),
            "income": rng.normal(50_000, 10_000, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "member": rng.integers(0, 2, n).astype(np.float64),
        }
    )


@pytest.fixture(scope="module")
def scorer(training: pd.DataFrame) -> OutlierScorer:
    profile = build_profile(training)
    return OutlierScorer.from_profile(profile, list(training.columns))


def frame(**columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_rows_like_training_score_zero(scorer: OutlierScorer, training: pd.DataFrame) -> None:
    scores = scorer.score(training.iloc[:1000].reset_index(drop=True))
    # the 0.1% tails hold about 0.1% of the training values per feature, and nothing else
    assert (scores.flags != OUT).all()
    assert (scores.flags == EXTREME).mean() < 0.005
    assert scores.score.max() <= 0.25


def test_numbers_out_of_range_are_named(scorer: OutlierScorer) -> None:
    batch = frame(
        age=[30.0, 9e9, 17.0], income=[50_000.0] * 3, city=["paris"] * 3, member=[1.0] * 3
    )
    scores = scorer.score(batch)
    assert scores.score.tolist() == [0.0, 0.25, 0.25]
    assert scores.offending(1) == ["age"]
    assert scores.feature_text() == [None, "age", "age"]
    problems = scorer.problems(batch, scores, np.array([1, 2]))
    assert [(p.field, p.kind, p.rows) for p in problems] == [("age", "out_of_distribution", [1, 2])]
    assert problems[0].detail.startswith("value 9e+09 is above everything seen in training (max 8")


def test_unseen_categories(scorer: OutlierScorer) -> None:
    batch = frame(age=[30.0, 30.0], income=[5e4, 5e4], city=["crypto", "lyon"], member=[0.0, 0.0])
    scores = scorer.score(batch)
    assert scores.offending(0) == ["city"]
    assert scores.score.tolist() == [0.25, 0.0]
    (problem,) = scorer.problems(batch, scores, np.array([0]))
    assert problem.detail == "category 'crypto' was never seen in training"


def test_extreme_values_weigh_half(scorer: OutlierScorer, training: pd.DataFrame) -> None:
    top = float(training["income"].max())
    batch = frame(age=[30.0], income=[top - 1e-6], city=["nice"], member=[1.0])
    scores = scorer.score(batch)
    assert scores.flags[0].tolist() == [OK, EXTREME, OK, OK]
    assert scores.score.tolist() == [0.125]
    (problem,) = scorer.problems(batch, scores, np.array([0]))
    assert "beyond the 99.9% quantile" in problem.detail


def test_the_common_value_of_a_binary_feature_is_never_extreme(scorer: OutlierScorer) -> None:
    batch = frame(age=[30.0, 30.0], income=[5e4, 5e4], city=["nice"] * 2, member=[0.0, 1.0])
    assert (scorer.score(batch).flags == OK).all()


def test_missing_values_are_not_out_of_distribution(scorer: OutlierScorer) -> None:
    batch = frame(
        age=[np.nan, None], income=[np.nan, 5e4], city=[None, np.nan], member=[np.nan, 1.0]
    )
    scores = scorer.score(batch.astype({"age": "float64"}))
    assert scores.score.tolist() == [0.0, 0.0]
    assert scores.feature_text() == [None, None]


def test_several_features_of_one_row(scorer: OutlierScorer) -> None:
    batch = frame(age=[-5.0], income=[1e12], city=["mars"], member=[7.0])
    scores = scorer.score(batch)
    assert scores.score.tolist() == [1.0]
    assert scores.offending(0) == ["age", "income", "member", "city"]
    assert scores.above(0.5).tolist() == [0]


def test_column_order_follows_the_input_not_the_profile(training: pd.DataFrame) -> None:
    profile = build_profile(training)
    columns = ["member", "city", "income", "age"]
    scorer = OutlierScorer.from_profile(profile, columns)
    array_like = frame(member=[1.0], city=["nice"], income=[5e4], age=[500.0])
    assert scorer.score(array_like).offending(0) == ["age"]


def test_a_2d_array_is_scored_by_position() -> None:
    rng = np.random.default_rng(1)
    sample = pd.DataFrame(rng.normal(size=(5000, 3)), columns=["a", "b", "c"])
    scorer = OutlierScorer.from_profile(build_profile(sample), ["a", "b", "c"])
    batch = np.array([[0.0, 0.0, 0.0], [0.0, 100.0, 0.0], [np.nan, 0.0, -100.0]])
    scores = scorer.score(batch)
    assert scores.feature_text() == [None, "b", "c"]
    assert scores.score.tolist() == pytest.approx([0.0, 1 / 3, 1 / 3])


def test_features_unknown_to_the_profile_are_not_scored(training: pd.DataFrame) -> None:
    profile = build_profile(training[["age"]])
    scorer = OutlierScorer.from_profile(profile, ["age", "extra"])
    assert scorer.features == ("age",)
    scores = scorer.score(frame(age=[1000.0], extra=[1e9]))
    assert scores.score.tolist() == [1.0]


def test_integer_and_boolean_categories_use_profile_keys() -> None:
    sample = pd.DataFrame(
        {"grade": pd.Series([1, 2, 3] * 100, dtype="category"), "flag": [True, False] * 150}
    )
    scorer = OutlierScorer.from_profile(
        build_profile(sample, categorical=["grade"]), ["grade", "flag"]
    )
    batch = pd.DataFrame({"grade": [1, 4], "flag": [True, False]})
    assert scorer.score(batch).feature_text() == [None, "grade"]


def test_a_profile_that_kept_only_the_top_categories_never_calls_one_unseen() -> None:
    sample = pd.DataFrame({"id": [f"u{i}" for i in range(1500)]})
    scorer = OutlierScorer.from_profile(build_profile(sample), ["id"])
    assert scorer.score(pd.DataFrame({"id": ["never"]})).score.tolist() == [0.0]


def test_scorer_for_a_stored_profile(training: pd.DataFrame) -> None:
    assert scorer_for(None, ["age"]) is None
    stored = build_profile(training).to_dict()
    scorer = scorer_for(stored, list(training.columns))
    assert scorer is not None and scorer.features[0] == "age"


def test_an_empty_batch(scorer: OutlierScorer, training: pd.DataFrame) -> None:
    scores = scorer.score(training.iloc[:0])
    assert len(scores) == 0 and scores.feature_text() == []


def test_the_tails_lie_inside_the_training_range(scorer: OutlierScorer) -> None:
    # what score() relies on: out of range implies beyond the tail quantile
    assert (scorer.low <= scorer.tail_low).all() and (scorer.tail_low <= scorer.tail_high).all()
    assert (scorer.tail_high <= scorer.high).all()


def test_the_share_of_logged_rows_above_the_threshold() -> None:
    scores = pd.Series([0.0, 0.75, np.nan, 0.5, 1.0])  # NaN: a row logged without a score
    features = pd.Series([None, "age,city", None, "city", "age"])
    share = logged_share(scores, features)
    assert (share.scored, share.above, share.share) == (4, 2, 0.5)
    assert share.features == {"age": 2, "city": 2}
    assert logged_share(pd.Series([np.nan]), None).share is None
