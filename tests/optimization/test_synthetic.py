"""Rows drawn from a reference profile: valid inputs that follow each feature's distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.monitoring.profile import build_profile
from modelport.optimization.synthetic import synthetic_rows
from modelport.schema import infer_signature, validate
from tests.optimization.test_distillation import credit


def test_synthetic_rows_follow_the_profile_and_the_signature() -> None:
    frame, _, _ = credit(rows=3000)
    frame["income"] = frame["income"].where(frame.index % 10 != 0)  # 10% missing
    signature = infer_signature(frame)
    profile = build_profile(frame)
    rows = synthetic_rows(signature, profile, frame, 5000, np.random.default_rng(0))
    again = synthetic_rows(signature, profile, frame, 5000, np.random.default_rng(0))
    pd.testing.assert_frame_equal(rows, again)
    validate(signature, rows)  # every drawn row is a valid input
    income = rows["income"]
    assert income.isna().mean() == pytest.approx(0.1, abs=0.02)
    assert income.min() >= frame.income.min() and income.max() <= frame.income.max()
    assert (rows["age"] % 1 == 0).all()
    assert rows["age"].between(frame.age.min(), frame.age.max()).all()
    assert set(rows["home"]) == {"rent", "own", "mortgage"}
    shares = rows["home"].value_counts(normalize=True)
    expected = frame["home"].value_counts(normalize=True)
    assert (shares - expected).abs().max() < 0.03
    # quantiles of the drawn numbers follow the data's (the profile's bins are percentiles)
    quantiles = np.nanquantile(income, [0.1, 0.5, 0.9])
    truth = np.nanquantile(frame.income, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(quantiles, truth, atol=1.5)


def test_what_the_profile_cannot_describe_is_resampled() -> None:
    frame = pd.DataFrame({"note": [f"free text {i}" for i in range(2000)], "x": np.arange(2000.0)})
    signature = infer_signature(frame)
    rows = synthetic_rows(signature, None, frame, 300, np.random.default_rng(1))
    assert set(rows["note"]) <= set(frame["note"]) and len(rows) == 300
    validate(signature, rows)
