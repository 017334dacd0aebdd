"""One agreement share for classifiers and regressors."""

from __future__ import annotations

import numpy as np
import pytest

from modelport.optimization.agreement import agreement


def test_labels_agree_by_value_whatever_their_dtype() -> None:
    full = np.array([0, 1, 1, 0], dtype=np.int32)
    assert agreement(full, np.array([0, 1, 0, 0], dtype=np.int64), classifier=True) == 0.75
    assert agreement(full, np.array(["0", "1", "1", "1"], dtype=object), classifier=True) == 0.75


def test_regressors_agree_within_the_spread() -> None:
    full = np.array([0.0, 2.0, 4.0, 6.0])
    shifted = full + 0.1 * np.std(full)
    assert agreement(full, shifted, classifier=False) == pytest.approx(0.9)
    assert agreement(np.ones(3), np.ones(3), classifier=False) == 1.0
    assert agreement(np.ones(3), np.zeros(3), classifier=False) == 0.0
    assert agreement(full, full + 100, classifier=False) == 0.0  # never below 0
