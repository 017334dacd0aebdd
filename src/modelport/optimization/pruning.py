"""Pruning tree ensembles: the fewest trees that still agree with the whole ensemble.

A forest's trees are exchangeable and a boosted model's stages are sequential, so in both
cases a prefix of the ensemble is a valid smaller model; taking prefixes keeps the choice
deterministic. Agreement is measured on the rows kept at registration: the share of equal
labels for classifiers, ``1 - mean |difference| / spread`` of the predictions for
regressors (spread: their standard deviation, so 0.99 means errors of 1% of it).

Agreement is not monotonic in the number of trees, so the bisection's answer is verified
and walked up until it meets the target.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.errors import InvalidArgument, UnsupportedModel

_SUPPORTED = (
    "scikit-learn RandomForest, ExtraTrees and GradientBoosting (classifiers and regressors), "
    "also as the last step of a Pipeline"
)


@dataclass(frozen=True, slots=True)
class PruneResult:
    model: Any
    kept: int
    total: int
    agreement: float

    def to_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "total": self.total, "agreement": self.agreement}


def prune(flavor: str, model: Any, inputs: Any, target_agreement: float) -> PruneResult:
    """The smallest prefix of ``model``'s ensemble agreeing with it ``target_agreement``."""
    if not 0 < target_agreement <= 1:
        raise InvalidArgument(
            f"the pruning target {target_agreement} is not a share in (0, 1]",
            hint="e.g. --prune 0.99 keeps the fewest trees giving the same label on 99% of rows",
        )
    if flavor != "sklearn":
        raise UnsupportedModel(f"pruning does not apply to {flavor} models", hint=_SUPPORTED)
    ensemble = _ensemble(model)
    total = _size(ensemble)
    full = np.asarray(model.predict(inputs))
    classifier = hasattr(ensemble, "classes_")

    def agreement(k: int) -> float:
        return _agreement(full, np.asarray(_cut(model, k).predict(inputs)), classifier)

    low, high = 1, total
    while low < high:
        middle = (low + high) // 2
        if agreement(middle) >= target_agreement:
            high = middle
        else:
            low = middle + 1
    kept = low
    score = agreement(kept)
    while score < target_agreement and kept < total:
        kept += 1
        score = agreement(kept)
    return PruneResult(_cut(model, kept), kept, total, score)


def _ensemble(model: Any) -> Any:
    """The ensemble itself, or a Pipeline's last step when that is one."""
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    kind = type(last).__name__
    if kind in (
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
    ):
        return last
    raise UnsupportedModel(f"pruning does not apply to {kind}", hint=_SUPPORTED)


def _size(ensemble: Any) -> int:
    return len(ensemble.estimators_)


def _cut(model: Any, k: int) -> Any:
    """An independent copy of ``model`` whose ensemble keeps its first ``k`` trees."""
    pruned = copy.deepcopy(model)
    ensemble = _ensemble(pruned)
    ensemble.estimators_ = ensemble.estimators_[:k]
    ensemble.n_estimators = k
    if hasattr(ensemble, "train_score_"):  # GradientBoosting: one score per stage
        ensemble.train_score_ = ensemble.train_score_[:k]
    return pruned


def _agreement(full: np.ndarray, pruned: np.ndarray, classifier: bool) -> float:
    if classifier:
        return float(np.mean(full == pruned))
    spread = float(np.std(full))
    if spread == 0:
        return 1.0 if np.allclose(full, pruned) else 0.0
    return max(0.0, 1.0 - float(np.mean(np.abs(full - pruned))) / spread)
