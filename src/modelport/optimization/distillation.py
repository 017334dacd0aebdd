"""Distillation: a small gradient-boosted student trained to predict what a large ensemble does.

The teacher is a random forest, extra-trees or gradient-boosted model of scikit-learn,
XGBoost or LightGBM, classifier or regressor, alone or as the last step of a Pipeline.
The student is a scikit-learn ``GradientBoosting`` model with few, shallow trees: unlike
``HistGradientBoosting`` it converts to ONNX (skl2onnx 1.20 fails on it), so a student
can also be served by ONNX Runtime. A Pipeline keeps its fitted preprocessing and gets
the student as its last step; a bare teacher given a frame with categories or nullable
columns gets an encoder in front (ordinal codes, median imputation with a missing
indicator), because ``GradientBoosting`` takes neither text nor NaN.

What the student learns from: the teacher's outputs, never the training labels, over the
stored sample rows plus rows drawn from the reference profile (:mod:`.synthetic`).
Classifiers learn the teacher's probabilities (soft targets), not only its labels: each
row is given once per class, weighted by the teacher's probability of that class, so the
student's log-loss is the cross-entropy to the teacher's distribution. That carries how
sure the teacher is near its decision boundary, where label targets alone would give the
student nothing to interpolate; a teacher without probabilities is learnt from its labels.
Regressors learn the teacher's predictions with squared error.

Honest fidelity: the stored sample is split once (seeded) into rows to train on, rows to
pick the student's size with, and held-out rows used for nothing but the fidelity
reported. Students of growing size are trained until one reaches the target on the
picking rows; its fidelity is then measured on the held-out rows. Fidelity is, for
classifiers, the share of rows given the teacher's label; for regressors R² of the
student's predictions against the teacher's (1 - squared error / variance of the
teacher's predictions, at least 0): the usual measure of how much of the teacher a
student explains. Pruning's stricter ``1 - MAE / std`` (:mod:`.agreement`) is reported
beside it. A student is only tried while it is smaller (in tree nodes) than its teacher.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelport.errors import InvalidArgument, ModelportError, OptimizationError, UnsupportedModel
from modelport.flavors.base import Predictor
from modelport.monitoring.profile import Profile
from modelport.optimization.agreement import agreement
from modelport.optimization.synthetic import synthetic_rows
from modelport.schema import Signature, validate

SUPPORTED = (
    "random forests, extra-trees and gradient-boosted models (scikit-learn RandomForest, "
    "ExtraTrees, GradientBoosting, HistGradientBoosting; XGBoost; LightGBM), classifiers "
    "or regressors, alone or as the last step of a Pipeline"
)
#: students tried, smallest first: (boosting stages, depth); a stage has a tree per class
#: for more than two classes
STUDENTS = ((20, 3), (50, 3), (100, 4), (200, 4))
#: rows drawn from the reference profile on top of the stored sample
SYNTHETIC_ROWS = 4_000
#: shares of the stored sample held out to measure fidelity, and to pick the size with
HELD_OUT, PICKING = 0.25, 0.15
#: fewer stored rows than this cannot say how faithful a student is
MIN_ROWS = 40

_SKLEARN_TEACHERS = {
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
}
_XGBOOST_TEACHERS = {
    "XGBClassifier",
    "XGBRegressor",
    "XGBRFClassifier",
    "XGBRFRegressor",
    "Booster",
}
_LIGHTGBM_TEACHERS = {"LGBMClassifier", "LGBMRegressor", "Booster"}


@dataclass(frozen=True, slots=True)
class EnsembleSize:
    trees: int
    nodes: int

    def to_dict(self) -> dict[str, int]:
        return {"trees": self.trees, "nodes": self.nodes}


@dataclass(frozen=True, slots=True)
class RowsUsed:
    #: stored sample rows the student was trained on
    sample: int
    #: rows drawn from the reference profile, all for training
    synthetic: int
    #: stored rows used to pick the student's size
    picking: int
    #: stored rows used for nothing but the fidelity reported
    held_out: int

    def to_dict(self) -> dict[str, int]:
        return {
            "sample": self.sample,
            "synthetic": self.synthetic,
            "picking": self.picking,
            "held_out": self.held_out,
        }


@dataclass(frozen=True, slots=True)
class DistillResult:
    """The student (a fitted scikit-learn model) and how faithful it is to its teacher."""

    model: Any
    #: label agreement (classifiers) or R² (regressors) against the teacher, held-out rows
    fidelity: float
    #: what the student is, e.g. "GradientBoostingClassifier(50 stages, 50 trees, depth 3)"
    student: str
    targets: Literal["probabilities", "labels", "values"]
    rows: RowsUsed
    teacher_size: EnsembleSize
    student_size: EnsembleSize
    #: regressors: 1 - MAE / std(teacher) on the held-out rows (pruning's measure)
    agreement: float | None = None
    #: each size tried, with its agreement on the picking rows
    tried: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    #: positions in the given sample of the held-out rows (to recompute the fidelity)
    held_out: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        return {
            "fidelity": self.fidelity,
            "measure": "label agreement" if self.agreement is None else "R² against the teacher",
            "agreement": self.agreement,
            "student": self.student,
            "targets": self.targets,
            "rows": self.rows.to_dict(),
            "teacher_size": self.teacher_size.to_dict(),
            "student_size": self.student_size.to_dict(),
            "tried": list(self.tried),
            "note": self.note,
        }


def distill(
    predictor: Predictor,
    signature: Signature,
    sample: pd.DataFrame,
    profile: Profile | dict[str, Any] | None,
    target: float,
    *,
    synthetic: int = SYNTHETIC_ROWS,
    seed: int = 0,
) -> DistillResult:
    """The smallest student reaching ``target`` fidelity, or the best one tried if none does.

    ``predictor``: the loaded teacher; ``sample``: raw rows like the training data (the
    stored sample); ``profile``: the version's reference profile (its dict form is
    accepted), or None to train on the sample alone. The caller gates on ``fidelity``.
    Raises UnsupportedModel for a teacher that is not a tree ensemble.
    """
    if not 0 < target <= 1:
        raise InvalidArgument(
            f"the distillation target {target} is not a share in (0, 1]",
            hint="e.g. --distill 0.97: a student giving the teacher's label on 97% of rows",
        )
    teacher = _teacher(predictor)
    if predictor.task not in ("classification", "regression"):
        raise UnsupportedModel(
            f"distillation needs a classifier or a regressor, not a {predictor.task} model",
            hint=SUPPORTED,
        )
    classes = predictor.classes if predictor.task == "classification" else None
    if predictor.task == "classification" and not classes:
        raise UnsupportedModel("the classifier does not name its classes", hint=SUPPORTED)
    if len(sample) < MIN_ROWS:
        raise OptimizationError(
            f"{len(sample)} stored rows are too few to train and check a student (at least "
            f"{MIN_ROWS})",
            hint="pass --sample FILE with more rows like the training data",
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(sample))
    n_held, n_pick = round(HELD_OUT * len(sample)), round(PICKING * len(sample))
    held_rows, pick_rows = order[:n_held], order[n_held : n_held + n_pick]
    train_rows = order[n_held + n_pick :]
    real = sample.reset_index(drop=True)
    train_raw = real.iloc[train_rows].reset_index(drop=True)
    drawn, note = _drawn(signature, profile, train_raw, synthetic, rng)
    train = validate(signature, pd.concat([train_raw, drawn], ignore_index=True), extra="ignore")
    picking = validate(signature, real.iloc[pick_rows].reset_index(drop=True), extra="ignore")
    held = validate(signature, real.iloc[held_rows].reset_index(drop=True), extra="ignore")
    fit = _Fitter(predictor, teacher, signature, train, classes, seed)
    smallest = fit.bound(*STUDENTS[0])
    if smallest >= teacher.size.nodes:
        raise UnsupportedModel(
            f"the {teacher.kind} has {teacher.size.nodes} tree nodes, no more than the smallest "
            f"student ({smallest}): distilling it would not make it smaller",
            hint="prune it instead (--prune), or serve it as it is",
        )
    measure = _label_agreement if classes is not None else _r2
    expected = np.asarray(predictor.predict(picking))
    tried: list[dict[str, Any]] = []
    best: tuple[float, Any, tuple[int, int]] | None = None
    for trees, depth in STUDENTS:
        if fit.bound(trees, depth) >= teacher.size.nodes:
            break  # a student as large as its teacher compresses nothing
        student = fit.student(trees, depth)
        score = measure(expected, np.asarray(student.predict(picking)))
        tried.append({"stages": trees, "depth": depth, "picking_fidelity": score})
        if best is None or score > best[0]:
            best = (score, student, (trees, depth))
        if score >= target:
            break
    assert best is not None
    _, student, (trees, depth) = best
    teacher_held = np.asarray(predictor.predict(held))
    student_held = np.asarray(student.predict(held))
    fidelity = measure(teacher_held, student_held)
    spread = None if classes is not None else agreement(teacher_held, student_held, False)
    final = student.steps[-1][1] if hasattr(student, "steps") else student
    size = _sklearn_size(final)
    return DistillResult(
        model=student,
        fidelity=fidelity,
        student=f"{type(final).__name__}({trees} stages, {size.trees} trees, depth {depth})",
        targets=fit.targets,
        rows=RowsUsed(len(train_raw), len(drawn), len(pick_rows), len(held_rows)),
        teacher_size=teacher.size,
        student_size=size,
        agreement=spread,
        tried=tried,
        note=note,
        held_out=np.sort(held_rows),
    )


@dataclass(frozen=True, slots=True)
class _Teacher:
    kind: str
    size: EnsembleSize
    #: a Pipeline teacher's fitted preprocessing steps, kept for the student
    steps: list[tuple[str, Any]] | None = None


def _teacher(predictor: Predictor) -> _Teacher:
    """What the teacher is and how large, or UnsupportedModel."""
    estimator = getattr(predictor, "estimator", None)
    if estimator is not None:  # the sklearn flavor
        steps = list(estimator.steps[:-1]) if hasattr(estimator, "steps") else None
        last = estimator.steps[-1][1] if steps is not None else estimator
        kind = type(last).__name__
        if kind in _SKLEARN_TEACHERS:
            return _Teacher(kind, _sklearn_size(last), steps)
        if kind in _XGBOOST_TEACHERS - {"Booster"}:
            return _Teacher(kind, _xgboost_size(last), steps)
        if kind in _LIGHTGBM_TEACHERS - {"Booster"}:
            return _Teacher(kind, _lightgbm_size(last.booster_), steps)
        raise UnsupportedModel(
            f"distillation makes a small model of a large tree ensemble, not of {kind}",
            hint=f"supported: {SUPPORTED}; a model this size needs no student",
        )
    booster = getattr(predictor, "booster", None)
    if booster is not None:  # the lightgbm flavor
        return _Teacher(f"LightGBM {getattr(predictor, 'wrapper', '')}", _lightgbm_size(booster))
    model = getattr(predictor, "model", None)
    if model is not None and type(model).__module__.startswith("xgboost"):
        return _Teacher(f"XGBoost {type(model).__name__}", _xgboost_size(model))
    raise UnsupportedModel(
        f"distillation does not apply to {type(predictor).__name__} models", hint=SUPPORTED
    )


class _Fitter:
    """Trains students of a given size on the teacher's outputs over the training rows."""

    def __init__(
        self,
        predictor: Predictor,
        teacher: _Teacher,
        signature: Signature,
        train: Any,
        classes: list[Any] | None,
        seed: int,
    ) -> None:
        self.classes = classes
        self.seed = seed
        self.front = _front(teacher, signature, train)
        features = self.front_transform(train)
        self.targets: Literal["probabilities", "labels", "values"]
        proba = predictor.predict_proba(train) if classes is not None else None
        if classes is None:
            self.targets = "values"
            self.x, self.y = features, np.asarray(predictor.predict(train), dtype=np.float64)
            self.weights: np.ndarray | None = None
        elif proba is None:
            self.targets = "labels"
            self.x, self.y, self.weights = features, np.asarray(predictor.predict(train)), None
        else:
            self.targets = "probabilities"
            self.x, self.y, self.weights = _soft_targets(features, np.asarray(proba), classes)

    def front_transform(self, rows: Any) -> Any:
        return rows if not self.front else _pipeline(self.front, None).transform(rows)

    def bound(self, trees: int, depth: int) -> int:
        """The most tree nodes a student of this size can have."""
        per_stage = len(self.classes) if self.classes is not None and len(self.classes) > 2 else 1
        return int(trees * per_stage * (2 ** (depth + 1) - 1))

    def student(self, trees: int, depth: int) -> Any:
        from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

        # few trees need larger steps to get as far as many small ones
        options = {
            "n_estimators": trees,
            "max_depth": depth,
            "learning_rate": min(0.5, 0.1 * max(1.0, 100 / trees)),
            "random_state": self.seed,
        }
        if self.classes is None:
            model: Any = GradientBoostingRegressor(**options)
        else:
            model = GradientBoostingClassifier(**options)
        model.fit(self.x, self.y, sample_weight=self.weights)
        if self.classes is not None and [str(c) for c in model.classes_] != [
            str(c) for c in self.classes
        ]:
            raise OptimizationError(
                f"the student learnt classes {list(model.classes_)}, the teacher has "
                f"{self.classes}",
                hint="a class the teacher never predicts on the sample cannot be learnt: "
                "pass --sample with rows of every class",
            )
        return _pipeline(self.front, model) if self.front else model


def _front(teacher: _Teacher, signature: Signature, train: Any) -> list[tuple[str, Any]]:
    """The fitted steps the student's trees read their input through (none if raw works)."""
    if teacher.steps is not None:
        steps = copy.deepcopy(teacher.steps)
        features = _pipeline(steps, None).transform(train) if steps else train
        if _has_missing(features) or any(f.nullable for f in signature.inputs):
            steps.append(("impute", _imputer().fit(features)))
        return steps
    if isinstance(train, pd.DataFrame):
        categorical = [c for c in train.columns if not pd.api.types.is_numeric_dtype(train[c])]
        if any(f.kind == "datetime" for f in signature.inputs):
            raise UnsupportedModel(
                "a student cannot be trained on date/time features without a Pipeline",
                hint="register the teacher as a Pipeline that encodes its dates",
            )
        nullable = [f.name for f in signature.inputs if f.nullable and f.name not in categorical]
        if not categorical and not nullable:
            return []
        from sklearn.compose import ColumnTransformer
        from sklearn.preprocessing import OrdinalEncoder

        parts: list[tuple[str, Any, list[str]]] = []
        if categorical:
            codes = OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
            )
            parts.append(("categories", codes, categorical))
        if nullable:
            parts.append(("missing", _imputer(), nullable))
        encoder = ColumnTransformer(parts, remainder="passthrough")
        return [("encode", encoder.fit(train))]
    if any(f.nullable for f in signature.inputs):
        return [("impute", _imputer().fit(train))]
    return []


def _imputer() -> Any:
    from sklearn.impute import SimpleImputer

    # the indicator keeps "missing" as information the teacher may have split on
    return SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)


def _pipeline(steps: list[tuple[str, Any]], last: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([*steps, ("student", last)] if last is not None else steps)


def _soft_targets(
    features: Any, proba: np.ndarray, classes: list[Any]
) -> tuple[Any, np.ndarray, np.ndarray]:
    """Each row once per class, labelled with the class, weighted by its probability."""
    rows, k = proba.shape
    keep = proba.T.reshape(-1) > 0  # class-major: block j holds every row labelled class j
    labels = np.repeat(np.asarray(classes), rows)[keep]
    weights = proba.T.reshape(-1)[keep]
    index = np.tile(np.arange(rows), k)[keep]
    if isinstance(features, pd.DataFrame):
        repeated: Any = features.iloc[index].reset_index(drop=True)
    else:
        repeated = features[index]
    return repeated, labels, weights


def _has_missing(features: Any) -> bool:
    data = getattr(features, "data", features)  # a sparse matrix's stored values
    try:
        return bool(np.isnan(np.asarray(data, dtype=np.float64)).any())
    except (TypeError, ValueError):
        return False


def _label_agreement(teacher: np.ndarray, student: np.ndarray) -> float:
    return agreement(teacher, student, classifier=True)


def _r2(teacher: np.ndarray, student: np.ndarray) -> float:
    """R² of ``student`` against ``teacher``, at least 0 (1 for a constant matched exactly)."""
    t, s = teacher.astype(np.float64), student.astype(np.float64)
    total = float(np.sum((t - t.mean()) ** 2))
    residual = float(np.sum((t - s) ** 2))
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return max(0.0, 1.0 - residual / total)


def _drawn(
    signature: Signature,
    profile: Profile | dict[str, Any] | None,
    sample: pd.DataFrame,
    rows: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, str | None]:
    """Rows drawn from the profile, or none and why."""
    if rows <= 0:
        return sample.iloc[:0], None
    if profile is None:
        return sample.iloc[:0], "no reference profile: trained on the stored sample alone"
    try:
        parsed = profile if isinstance(profile, Profile) else Profile.from_dict(profile)
        frame = synthetic_rows(signature, parsed, sample, rows, rng)
        validate(signature, frame, extra="ignore")  # what cannot be validated is not used
    except ModelportError as exc:
        return sample.iloc[:0], f"no rows drawn from the profile ({exc.message})"
    return frame, None


def _sklearn_size(model: Any) -> EnsembleSize:
    if hasattr(model, "_predictors"):  # HistGradientBoosting
        trees = [tree for stage in model._predictors for tree in stage]
        return EnsembleSize(len(trees), sum(len(tree.nodes) for tree in trees))
    estimators = np.asarray(model.estimators_, dtype=object).reshape(-1)
    return EnsembleSize(len(estimators), sum(int(e.tree_.node_count) for e in estimators))


def _xgboost_size(model: Any) -> EnsembleSize:
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    dump = booster.get_dump()
    return EnsembleSize(len(dump), sum(tree.count("\n") for tree in dump))


def _lightgbm_size(booster: Any) -> EnsembleSize:
    trees = booster.dump_model()["tree_info"]
    return EnsembleSize(len(trees), sum(2 * int(t["num_leaves"]) - 1 for t in trees))


__all__ = ["SUPPORTED", "DistillResult", "EnsembleSize", "RowsUsed", "distill"]
