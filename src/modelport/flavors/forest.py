"""A fitted scikit-learn forest classifier walked in NumPy: the same arithmetic, no per-tree
Python.

scikit-learn's ``RandomForestClassifier.predict_proba`` costs about 5 ms for 100 trees
whatever the rows: per tree it enters joblib, copies configuration and warning filters
and validates the input again, all holding the GIL. On a server that is time the event
loop cannot parse requests in, and a batch of 64 rows costs nearly what one row costs. Here
every tree's nodes sit in one flat table and all trees walk all rows together, one level
per step, in a few NumPy operations.

The result is bit for bit scikit-learn's: rows are compared as float32 (as its trees
compare them), each leaf gives the class fractions its tree stores, and the trees'
probabilities are added in tree order before one division by the tree count, as
``_accumulate_prediction`` does. The runtime still takes it only after it gave exactly the
forest's outputs on the version's kept training rows
(:func:`modelport.loaded.array_predictor`). A batch holding a NaN (trees may send
missing values either way), or of more than :data:`MAX_ROWS` rows, is left to scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.flavors._common import plain_list, predicting
from modelport.flavors.base import Task

#: the exact classes walked here: a subclass may change how it predicts
FORESTS = frozenset(
    {
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
    }
)


#: above this many rows scikit-learn's compiled walk of one tree at a time is the faster
#: (its per-tree overhead is then small next to the rows)
MAX_ROWS = 1024


def walkable(estimator: Any) -> bool:
    """Whether ``estimator`` is a fitted single-output forest classifier of scikit-learn."""
    cls = type(estimator)
    return (
        f"{cls.__module__}.{cls.__qualname__}" in FORESTS
        and getattr(estimator, "n_outputs_", None) == 1
        and bool(getattr(estimator, "estimators_", None))
    )


class ForestWalker:
    """Predicts like the forest it was built from, on 2-D arrays of its features in order."""

    task: Task = "classification"

    def __init__(self, forest: Any) -> None:
        self.forest = forest
        self.classes: list[Any] | None = plain_list(forest.classes_)
        self._classes = np.asarray(forest.classes_)
        n_classes = int(forest.n_classes_)
        trees = [e.tree_ for e in forest.estimators_]
        sizes = [t.node_count for t in trees]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        features, thresholds, children, tables = [], [], [], []
        for tree, offset in zip(trees, offsets, strict=True):
            leaf = tree.children_left < 0
            own = np.arange(tree.node_count, dtype=np.intp) + offset
            # a leaf points at itself both ways, so walking past it changes nothing
            left = np.where(leaf, own, tree.children_left + offset)
            right = np.where(leaf, own, tree.children_right + offset)
            features.append(np.where(leaf, 0, tree.feature))
            thresholds.append(np.where(leaf, np.inf, tree.threshold))
            children.append(np.stack([left, right], axis=1))
            # what DecisionTreeClassifier.predict_proba reads: the class fractions of the leaf
            tables.append(tree.value[:, 0, :n_classes])
        self._roots = offsets
        self._feature = np.concatenate(features).astype(np.intp)
        self._threshold = np.concatenate(thresholds).astype(np.float64)
        self._children = np.concatenate(children).astype(np.intp)
        self._proba = np.concatenate(tables)
        self._depth = max(int(t.max_depth) for t in trees)
        self._n_features = int(forest.n_features_in_)

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        rows = np.asarray(batch, dtype=np.float32)
        if (
            rows.ndim != 2
            or rows.shape[1] != self._n_features
            or rows.shape[0] > MAX_ROWS
            or np.isnan(rows).any()
        ):
            with predicting("sklearn"):  # its own checks and errors, missing values too
                return np.asarray(self.forest.predict_proba(batch))
        n = rows.shape[0]
        flat = rows.ravel()
        base = (np.arange(n, dtype=np.intp) * self._n_features)[np.newaxis, :]
        node = np.repeat(self._roots[:, np.newaxis], n, axis=1)
        for _ in range(self._depth):
            values = flat[base + self._feature[node]]
            node = self._children[node, (values > self._threshold[node]).view(np.int8)]
        leaves = self._proba[node]  # trees x rows x classes
        out = np.zeros((n, leaves.shape[2]), dtype=np.float64)
        for tree in leaves:  # in tree order, as scikit-learn adds them
            out += tree
        out /= len(self._roots)
        return out

    def predict(self, batch: Any) -> np.ndarray:
        proba = self.predict_proba(batch)
        assert proba is not None
        return np.asarray(self._classes.take(np.argmax(proba, axis=1), axis=0))

    def argmax_classes(self) -> np.ndarray | None:
        """The classes: a forest's ``predict`` is the argmax of its probabilities."""
        return self._classes
