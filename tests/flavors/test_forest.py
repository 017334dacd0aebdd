"""The NumPy walk of a forest gives scikit-learn's probabilities bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from modelport.flavors.forest import MAX_ROWS, ForestWalker, walkable

X, Y = make_classification(
    n_samples=3000, n_features=8, n_informative=5, n_classes=3, random_state=0
)


@pytest.mark.parametrize(
    "forest",
    [
        RandomForestClassifier(n_estimators=25, max_depth=8, random_state=0),
        RandomForestClassifier(n_estimators=10, random_state=1),  # grown to purity
        ExtraTreesClassifier(n_estimators=15, max_depth=6, random_state=2),
    ],
)
@pytest.mark.parametrize("rows", [1, 7, 64, MAX_ROWS + 1])
def test_probabilities_and_labels_equal_scikit_learn_exactly(forest: object, rows: int) -> None:
    fitted = forest.fit(X, Y)  # type: ignore[attr-defined]
    walker = ForestWalker(fitted)
    batch = np.random.default_rng(rows).normal(size=(rows, 8)) * 2
    assert np.array_equal(walker.predict_proba(batch), fitted.predict_proba(batch))
    assert walker.predict(batch).tolist() == fitted.predict(batch).tolist()
    assert walker.classes == [0, 1, 2]


def test_a_batch_with_a_missing_value_is_left_to_scikit_learn() -> None:
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    batch = X[:4].copy()
    batch[1, 3] = np.nan  # scikit-learn's trees route missing values themselves
    assert np.array_equal(ForestWalker(forest).predict_proba(batch), forest.predict_proba(batch))


def test_only_fitted_single_output_forest_classifiers_are_walked() -> None:
    assert walkable(RandomForestClassifier(n_estimators=2).fit(X, Y))
    assert not walkable(RandomForestClassifier(n_estimators=2))  # not fitted
    assert not walkable(LogisticRegression().fit(X, Y))
    two = np.stack([Y, Y[::-1]], axis=1)
    assert not walkable(RandomForestClassifier(n_estimators=2).fit(X, two))

    class Mine(RandomForestClassifier):
        pass

    assert not walkable(Mine(n_estimators=2).fit(X, Y))  # a subclass may predict otherwise
