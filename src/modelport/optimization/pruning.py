"""Pruning tree ensembles: the fewest trees that still agree with the whole ensemble.

A forest's trees are exchangeable and a boosted model's stages are sequential, so in both
cases a prefix of the ensemble is a valid smaller model; taking prefixes keeps the choice
deterministic. Boosted models of XGBoost and LightGBM are cut by boosting round (a
multiclass round holds one tree per class): XGBoost by slicing the booster
(``booster[:k]``, what ``iteration_range=(0, k)`` predicts with), LightGBM by writing the
first ``k`` iterations (``model_to_string(num_iteration=k)``) and reading them back, so
the result is a real smaller model whose saved artifact is smaller, not the whole model
told to stop early. An early-stopped XGBoost model predicts with its best rounds, so
those are its whole ensemble here.

Agreement is measured on the rows kept at registration (:mod:`.agreement`): the share
of equal labels for classifiers, ``1 - mean |difference| / spread`` of the predictions
for regressors (spread: their standard deviation, so 0.99 means errors of 1% of it).

Agreement is not monotonic in the number of trees, so the bisection's answer is verified
and walked up until it meets the target.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.errors import InvalidArgument, UnsupportedModel
from modelport.optimization.agreement import agreement as _agreement

_SUPPORTED = (
    "scikit-learn RandomForest, ExtraTrees and GradientBoosting (classifiers and regressors), "
    "also as the last step of a Pipeline; boosted XGBoost and LightGBM models (the "
    "scikit-learn wrappers, also as a Pipeline's last step, Boosters, and the "
    "xgboost/lightgbm flavors' loaded models)"
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
    """The smallest prefix of ``model``'s ensemble agreeing with it ``target_agreement``.

    ``flavor`` is the model's flavor name: "sklearn" (an estimator or Pipeline),
    "xgboost" (a scikit-learn wrapper or Booster) or "lightgbm" (a wrapper, a Booster, or
    the flavor's LightGBMPredictor, which keeps the wrapper's class labels). ``inputs``
    is model-ready input. The result is of the same kind as ``model``.
    """
    if not 0 < target_agreement <= 1:
        raise InvalidArgument(
            f"the pruning target {target_agreement} is not a share in (0, 1]",
            hint="e.g. --prune 0.99 keeps the fewest trees giving the same label on 99% of rows",
        )
    if flavor == "sklearn":
        total, classifier, cut = _sklearn(model)
    elif flavor == "xgboost":
        total, classifier, cut = _xgboost(model)
    elif flavor == "lightgbm":
        total, classifier, cut = _lightgbm(model)
    else:
        raise UnsupportedModel(f"pruning does not apply to {flavor} models", hint=_SUPPORTED)
    full = np.asarray(_predict(flavor, model, inputs))

    def agreement(k: int) -> float:
        return _agreement(full, np.asarray(_predict(flavor, cut(k), inputs)), classifier)

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
    return PruneResult(cut(kept), kept, total, score)


_Cut = Callable[[int], Any]


def _predict(flavor: str, model: Any, inputs: Any) -> Any:
    """What the flavor would predict with ``model``: labels for a classifier Booster too."""
    if _is_booster(model, "xgboost"):
        from modelport.flavors.xgboost import XGBoostPredictor

        return XGBoostPredictor(model, "Booster", _xgb_classes(model)).predict(inputs)
    if _is_booster(model, "lightgbm"):
        from modelport.flavors.lightgbm import LightGBMPredictor

        return LightGBMPredictor(model, "Booster", _lgb_classes(model)).predict(inputs)
    return model.predict(inputs)


def _is_booster(model: Any, library: str) -> bool:
    return type(model).__name__ == "Booster" and type(model).__module__.startswith(library)


def _sklearn(model: Any) -> tuple[int, bool, _Cut]:
    last = model.steps[-1][1] if hasattr(model, "steps") else None
    library = type(last).__module__.partition(".")[0]
    if last is not None and library in ("xgboost", "lightgbm"):
        # a Pipeline ending in a boosted model of those libraries: cut that step by rounds
        total, classifier, cut_last = (_xgboost if library == "xgboost" else _lightgbm)(last)

        def cut(k: int) -> Any:
            pruned = copy.copy(model)  # the fitted preprocessing is shared, never refitted
            pruned.steps = [*model.steps[:-1], (model.steps[-1][0], cut_last(k))]
            return pruned

        return total, classifier, cut
    ensemble = _ensemble(model)
    return _size(ensemble), hasattr(ensemble, "classes_"), lambda k: _cut(model, k)


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


def _xgboost(model: Any) -> tuple[int, bool, _Cut]:
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    if not hasattr(booster, "num_boosted_rounds"):
        raise UnsupportedModel(f"pruning does not apply to {type(model).__name__}", hint=_SUPPORTED)
    kind = type(model).__name__
    if kind.startswith("XGBRF") or booster.num_boosted_rounds() < 2:
        raise UnsupportedModel(
            f"the {kind} has a single boosting round: its trees grow in parallel within it, "
            "and a round is the least XGBoost can cut",
            hint="train it with more rounds (n_estimators), or distil it (--distill)",
        )
    total = booster.num_boosted_rounds()
    with contextlib.suppress(AttributeError):  # early-stopped: it predicts with its best rounds
        total = min(total, int(model.best_iteration) + 1)
    classifier = hasattr(model, "predict_proba") or _xgb_classes(booster) is not None

    def cut(k: int) -> Any:
        sliced = booster[:k]  # a new Booster of the first k rounds, without best_iteration
        if model is booster:
            return sliced
        pruned = copy.copy(model)  # the wrapper's other attributes are shared, not mutated
        pruned._Booster = sliced
        pruned.n_estimators = k
        return pruned

    return total, classifier, cut


def _xgb_classes(booster: Any) -> list[int] | None:
    from modelport.flavors.xgboost import booster_classes

    return booster_classes(booster)


def _lgb_classes(booster: Any) -> list[int] | None:
    """0..k-1 for a Booster trained as a classifier (as the lightgbm flavor reads it)."""
    params = booster.params or {}
    objective = str(params.get("objective", ""))
    if objective == "binary":
        return [0, 1]
    if objective in ("multiclass", "multiclassova", "softmax", "ova"):
        return list(range(int(params.get("num_class", 1))))
    return None


def _lightgbm(model: Any) -> tuple[int, bool, _Cut]:
    from modelport.flavors.lightgbm import LightGBMPredictor, import_lightgbm

    lgb = import_lightgbm()
    if isinstance(model, LightGBMPredictor):
        booster = model.booster
        classifier = model.classes is not None
    elif _is_booster(model, "lightgbm"):
        booster, classifier = model, _lgb_classes(model) is not None
    elif hasattr(model, "booster_"):
        booster, classifier = model.booster_, hasattr(model, "classes_")
    else:
        raise UnsupportedModel(f"pruning does not apply to {type(model).__name__}", hint=_SUPPORTED)
    total = int(booster.current_iteration())
    if booster.best_iteration > 0:  # trained with early stopping: it predicts with these
        total = min(total, int(booster.best_iteration))

    def cut(k: int) -> Any:
        sliced = lgb.Booster(model_str=booster.model_to_string(num_iteration=k))
        if isinstance(model, LightGBMPredictor):
            return LightGBMPredictor(sliced, model.wrapper, model.classes)
        if model is booster:
            return sliced
        pruned = copy.copy(model)
        pruned._Booster = sliced
        pruned._best_iteration = None
        pruned.n_estimators = k
        return pruned

    return total, classifier, cut
