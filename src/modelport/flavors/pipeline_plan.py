"""A fitted scikit-learn Pipeline replayed in NumPy: the same arithmetic, no per-call checks.

A Pipeline of a ColumnTransformer (a scaler on numbers, a one-hot encoder on text) and a
linear model costs about 3.6 ms of CPU per call whatever the rows: the ColumnTransformer
selects a sub-frame per transformer, every transformer converts and validates it again
(pandas and narwhals look-ups, ``check_array``), and the one-hot encoder checks every column
for unknown categories through sets. The arithmetic itself takes microseconds. Here each
known transformer is read once, at load time, into a :class:`Transform` that repeats its
arithmetic exactly (``(X - mean_) / scale_`` is what ``X -= mean_; X /= scale_`` computes,
element by element; a one-hot column holds exactly 1.0 or 0.0), the blocks are joined as
the ColumnTransformer joins them (``np.hstack``, or ``scipy.sparse.hstack(...).tocsr()`` of
the same kinds of blocks for a sparse output), and the final estimator is called on the
result, as the Pipeline calls it (a LogisticRegression's probabilities computed as its
``predict_proba`` computes them, :class:`LogisticRegressionReplay`; a forest walked in NumPy,
:mod:`.forest`). For the bench's Pipeline: 50-60 times less CPU per call, 1 to 64 rows
(``bench/serving/pipeline_replay.py``).

The input is one 2-D object array of the model's features in order (the numbers as floats,
the text as ``str``), so no DataFrame is built at all. A batch the replay does not cover
(a value in a text column that is not a string, an unknown category where the encoder
raises or warns) raises :class:`Outside`, and :class:`ReplayedPipeline` hands that batch to
the Pipeline itself. Only exact scikit-learn classes in configurations read here are
planned; anything else (a FunctionTransformer doing work, pandas output, a callable column
selector, transformer weights, infrequent categories, ``drop``) gives no plan, and the
runtime takes a plan only after it answered exactly as the Pipeline on the kept training
rows (:func:`modelport.loaded.mixed_predictor`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from modelport.flavors._common import predicting
from modelport.flavors.base import Predictor, Task

#: what a transform reads or gives: dense float64 numbers, text (objects), a sparse matrix
Kind = Literal["numbers", "text", "sparse"]


class Outside(Exception):
    """A batch this plan does not cover: the Pipeline answers it."""


@dataclass(frozen=True)
class Transform:
    """One fitted transformer's arithmetic, on what it ``takes``, giving what it ``gives``."""

    takes: Kind
    gives: Kind
    apply: Callable[[Any], Any]
    #: for a sparse output, the same values as one dense array (what ``.toarray()`` of it
    #: gives), without building the sparse matrix; None: not available
    dense: Callable[[Any], np.ndarray] | None = None


def _name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _float_vector(values: Any) -> np.ndarray | None:
    array = np.asarray(values) if values is not None else None
    if array is None or array.dtype != np.float64 or array.ndim != 1:
        return None
    return array


def _default_output(estimator: Any) -> bool:
    """Whether ``estimator`` gives NumPy output (not pandas or polars, by itself or globally)."""
    from sklearn.utils._set_output import _get_output_config

    return bool(_get_output_config("transform", estimator)["dense"] == "default")


def _numbers(X: Any) -> np.ndarray:
    if not isinstance(X, np.ndarray) or X.dtype != np.float64 or X.ndim != 2:
        raise Outside("not a dense float64 array")
    return X


def _standard_scaler(step: Any) -> Transform | None:
    mean = _float_vector(getattr(step, "mean_", None)) if step.with_mean else None
    scale = _float_vector(getattr(step, "scale_", None)) if step.with_std else None
    if (step.with_mean and mean is None) or (step.with_std and scale is None):
        return None
    return _centred_and_scaled(mean, scale)


def _centred_and_scaled(center: np.ndarray | None, scale: np.ndarray | None) -> Transform:
    """``(X - center) / scale``, each step only if given: StandardScaler's and RobustScaler's
    arithmetic, in their order."""

    def apply(X: Any) -> np.ndarray:
        out = _numbers(X)
        if center is not None:
            out = out - center
        if scale is not None:
            out = out / scale
        return out if out is not X else out.copy()

    return Transform("numbers", "numbers", apply)


def _min_max_scaler(step: Any) -> Transform | None:
    scale, low = _float_vector(step.scale_), _float_vector(step.min_)
    if scale is None or low is None:
        return None
    bounds = (float(step.feature_range[0]), float(step.feature_range[1])) if step.clip else None

    def apply(X: Any) -> np.ndarray:
        out: np.ndarray = _numbers(X) * scale + low
        return out if bounds is None else np.clip(out, bounds[0], bounds[1])

    return Transform("numbers", "numbers", apply)


def _robust_scaler(step: Any) -> Transform | None:
    center = _float_vector(step.center_) if step.with_centering else None
    scale = _float_vector(step.scale_) if step.with_scaling else None
    if (step.with_centering and center is None) or (step.with_scaling and scale is None):
        return None
    return _centred_and_scaled(center, scale)


def _max_abs_scaler(step: Any) -> Transform | None:
    scale = _float_vector(step.scale_)
    if scale is None:
        return None
    clip = bool(getattr(step, "clip", False))

    def apply(X: Any) -> np.ndarray:
        out: np.ndarray = _numbers(X) / scale
        return np.clip(out, -1.0, 1.0) if clip else out

    return Transform("numbers", "numbers", apply)


def _simple_imputer(step: Any) -> Transform | None:
    from sklearn.utils._missing import is_scalar_nan

    fit_dtype = getattr(step, "_fit_dtype", None)
    if step.add_indicator or not is_scalar_nan(step.missing_values) or fit_dtype is None:
        return None
    if fit_dtype.kind == "O":
        # text seen at fit: with every value a string nothing is missing, so nothing changes
        # (a missing one is NaN in the Pipeline's frame and None here: the Pipeline's case)
        return Transform("text", "text", _text)
    fill_dtype = getattr(step, "_fill_dtype", fit_dtype)
    if fit_dtype != np.float64 or fill_dtype != np.float64:
        return None
    # what transform fills in: its statistics cast to the fill dtype (objects for "constant")
    statistics = _float_vector(np.asarray(step.statistics_).astype(fill_dtype))
    if statistics is None:
        return None
    if np.isnan(statistics).any():  # sklearn drops those columns, with a warning
        return None

    def apply(X: Any) -> np.ndarray:
        out = _numbers(X)
        missing = np.isnan(out)
        if not missing.any():
            return out.copy()
        out = out.copy()
        out[missing] = np.broadcast_to(statistics, out.shape)[missing]
        return out

    return Transform("numbers", "numbers", apply)


def _text(X: Any) -> np.ndarray:
    if not isinstance(X, np.ndarray) or X.dtype != object or X.ndim != 2:
        raise Outside("not an object array")
    if not all(type(v) is str for v in X.ravel().tolist()):
        raise Outside("a value that is not a string")
    return X


def _lookups(step: Any) -> list[dict[str, int]] | None:
    """Per column, category -> index in ``categories_``; None unless every category is text."""
    if getattr(step, "_infrequent_enabled", True):
        return None
    lookups: list[dict[str, int]] = []
    for categories in step.categories_:
        values = np.asarray(categories)
        if values.dtype != object or not all(type(v) is str for v in values.tolist()):
            return None
        lookups.append({v: i for i, v in enumerate(values.tolist())})
        if len(lookups[-1]) != len(values):
            return None
    return lookups


def _codes(X: Any, lookups: list[dict[str, int]], unknown_allowed: bool) -> np.ndarray:
    """Each value's index in its column's categories, -1 for an unknown one."""
    if not isinstance(X, np.ndarray) or X.dtype != object or X.ndim != 2:
        raise Outside("not an object array")
    if X.shape[1] != len(lookups):
        raise Outside("not the encoder's columns")
    codes = np.empty(X.shape, dtype=np.intp)
    for i, lookup in enumerate(lookups):
        column = X[:, i].tolist()
        codes[:, i] = [lookup.get(v, -1) for v in column]
    unknown = codes < 0
    # NaN and None are missing values to scikit-learn, not unknown categories
    if unknown.any() and (
        not unknown_allowed or not all(type(v) is str for v in X[unknown].tolist())
    ):
        raise Outside("an unknown category the encoder raises or warns about, or no text")
    return codes


def _one_hot_encoder(step: Any) -> Transform | None:
    lookups = _lookups(step)
    if lookups is None or step.drop is not None or getattr(step, "drop_idx_", None) is not None:
        return None
    widths = [len(lookup) for lookup in lookups]
    if list(getattr(step, "_n_features_outs", widths)) != widths:
        return None
    # "error" raises and "warn" warns on an unknown one: the Pipeline's to do
    ignore = step.handle_unknown in ("ignore", "infrequent_if_exist")
    offsets = np.cumsum([0, *widths[:-1]]).astype(np.intp)
    total = int(sum(widths))
    dtype = np.dtype(step.dtype)
    sparse_output = bool(step.sparse_output)

    def dense(X: Any) -> np.ndarray:
        codes = _codes(X, lookups, ignore)
        out = np.zeros((len(codes), total), dtype=dtype)
        rows, columns = np.nonzero(codes >= 0)
        out[rows, codes[rows, columns] + offsets[columns]] = 1
        return out

    def sparse_matrix(X: Any) -> Any:
        import sklearn
        from scipy import sparse

        codes = _codes(X, lookups, ignore)
        known = (codes >= 0).ravel()
        indices = (codes + offsets).ravel()[known].astype(np.int32)
        indptr = np.zeros(len(codes) + 1, dtype=np.int32)
        np.cumsum((codes >= 0).sum(axis=1), out=indptr[1:])
        data = np.ones(len(indices), dtype=dtype)
        shape = (len(codes), total)
        if sklearn.get_config().get("sparse_interface", "spmatrix") == "sparray":
            return sparse.csr_array((data, indices, indptr), shape=shape)
        return sparse.csr_matrix((data, indices, indptr), shape=shape)

    if sparse_output:
        return Transform("text", "sparse", sparse_matrix, dense)
    return Transform("text", "numbers", dense)


def _ordinal_encoder(step: Any) -> Transform | None:
    lookups = _lookups(step)
    if lookups is None or getattr(step, "_missing_indices", {None: 0}):
        return None
    use_unknown = step.handle_unknown == "use_encoded_value"
    unknown_value = step.unknown_value
    dtype = np.dtype(step.dtype)

    def apply(X: Any) -> np.ndarray:
        codes = _codes(X, lookups, use_unknown)
        out = codes.astype(dtype)
        if use_unknown:
            out[codes < 0] = unknown_value
        return out

    return Transform("text", "numbers", apply)


#: the exact classes replayed, by their module path: a subclass may change what it computes
_PLANNERS: dict[str, Callable[[Any], Transform | None]] = {
    "sklearn.preprocessing._data.StandardScaler": _standard_scaler,
    "sklearn.preprocessing._data.MinMaxScaler": _min_max_scaler,
    "sklearn.preprocessing._data.RobustScaler": _robust_scaler,
    "sklearn.preprocessing._data.MaxAbsScaler": _max_abs_scaler,
    "sklearn.impute._base.SimpleImputer": _simple_imputer,
    "sklearn.preprocessing._encoders.OneHotEncoder": _one_hot_encoder,
    "sklearn.preprocessing._encoders.OrdinalEncoder": _ordinal_encoder,
}


def plan_step(step: Any) -> Transform | None:
    """The replay of one fitted transformer (or a Pipeline of them); None if not known."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return None
    name = _name(step)
    if name == "sklearn.pipeline.Pipeline":
        return _chain([s for _, s in step.steps])
    if name == "sklearn.preprocessing._function_transformer.FunctionTransformer":
        return None  # ColumnTransformer's own passthrough is recognised where it sits
    planner = _PLANNERS.get(name)
    if planner is None or not _default_output(step):
        return None
    try:
        return planner(step)
    except (AttributeError, TypeError, ValueError):  # not fitted as read here
        return None


def _chain(steps: Sequence[Any]) -> Transform | None:
    planned: list[Transform] = []
    for step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        transform = plan_step(step)
        if transform is None or (planned and planned[-1].gives != transform.takes):
            return None
        planned.append(transform)
    if not planned:
        return None
    if len(planned) == 1:
        return planned[0]

    def apply(X: Any) -> Any:
        for transform in planned:
            X = transform.apply(X)
        return X

    last = planned[-1]
    if last.dense is None:
        return Transform(planned[0].takes, last.gives, apply)
    densify = last.dense

    def dense(X: Any) -> np.ndarray:
        for transform in planned[:-1]:
            X = transform.apply(X)
        return densify(X)

    return Transform(planned[0].takes, last.gives, apply, dense)


def _identity(step: Any) -> bool:
    """ColumnTransformer's fitted ``passthrough``: a FunctionTransformer that returns its input."""
    return (
        _name(step) == "sklearn.preprocessing._function_transformer.FunctionTransformer"
        and step.func is None
        and not step.validate
        and _default_output(step)
    )


@dataclass(frozen=True)
class Block:
    """One ColumnTransformer entry: the input positions it reads and what it does with them."""

    positions: np.ndarray
    transform: Transform


def _column_transformer(
    ct: Any, columns: Sequence[str], numbers: frozenset[str]
) -> tuple[list[Block], bool] | None:
    """The blocks of a ColumnTransformer fitted on a frame of exactly ``columns``."""
    names = [str(n) for n in getattr(ct, "feature_names_in_", [])]
    if names != list(columns) or ct.transformer_weights or not _default_output(ct):
        return None
    if any(callable(selection) for _, _, selection in ct.transformers):
        return None
    indices = getattr(ct, "_transformer_to_input_indices", None)
    if not isinstance(indices, dict):
        return None
    blocks: list[Block] = []
    for name, step, _ in ct.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        positions = np.asarray(indices.get(name, []), dtype=np.intp)
        if not len(positions):
            continue  # skipped by the ColumnTransformer too
        selected = {columns[i] for i in positions.tolist()}
        kind: Kind = "numbers" if selected <= numbers else "text"
        if kind == "text" and selected & numbers:
            return None
        if _identity(step):
            if kind != "numbers":
                return None  # text passed through: an object block, not replayed
            transform = Transform("numbers", "numbers", lambda X: X)
        else:
            planned = plan_step(step)
            if planned is None:
                return None
            transform = planned
        if transform.takes != kind or transform.gives == "text":
            return None
        blocks.append(Block(positions, transform))
    if not blocks:
        return None  # every column dropped: an empty output, not worth a plan
    return blocks, bool(ct.sparse_output_)


@dataclass(frozen=True)
class Plan:
    """A Pipeline's transforming steps replayed on one object array of its features."""

    #: the ColumnTransformer's blocks, or None when the first step reads every column
    blocks: list[Block] | None
    sparse: bool
    #: the steps after the ColumnTransformer (or all of them, without one)
    rest: Transform | None
    n_columns: int

    def transform(self, X: Any) -> Any:
        """What the Pipeline's final estimator gets for ``X`` (raises :class:`Outside`)."""
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != self.n_columns:
            raise Outside("not the plan's input")
        if self.blocks is None:
            # the frame of numbers as the first step gets it: DataFrame.to_numpy() order
            out: Any = np.asfortranarray(X, dtype=np.float64)
        else:
            out = self._join([self._block(X, block) for block in self.blocks])
        return out if self.rest is None else self.rest.apply(out)

    def _block(self, X: np.ndarray, block: Block) -> Any:
        part = X[:, block.positions]
        transform = block.transform
        if transform.takes == "numbers":
            part = part.astype(np.float64)
        if not self.sparse and transform.dense is not None:  # to be made dense anyway
            return transform.dense(part)
        return transform.apply(part)

    def _join(self, parts: list[Any]) -> Any:
        from scipy import sparse

        if self.sparse:
            return sparse.hstack(parts).tocsr()
        return np.hstack([p.toarray() if sparse.issparse(p) else p for p in parts])


def plan_pipeline(pipeline: Any, columns: Sequence[str], numbers: frozenset[str]) -> Plan | None:
    """The plan of a fitted Pipeline whose input is a frame of ``columns`` (those in
    ``numbers`` numbers, float64 or integer, the others text); None unless every step is
    known. Whole numbers reach the numeric transformers as float64, which is what they
    convert an integer column to."""
    if _name(pipeline) != "sklearn.pipeline.Pipeline" or len(pipeline.steps) < 2:
        return None
    steps = [s for _, s in pipeline.steps[:-1] if s is not None and not _is_passthrough(s)]
    if not steps:
        return None
    blocks: list[Block] | None = None
    sparse = False
    if _name(steps[0]) == "sklearn.compose._column_transformer.ColumnTransformer":
        found = _column_transformer(steps[0], columns, numbers)
        if found is None:
            return None
        blocks, sparse = found
        steps = steps[1:]
        given: Kind = "sparse" if sparse else "numbers"
    else:
        names = [str(n) for n in getattr(steps[0], "feature_names_in_", [])]
        if names != list(columns) or not set(columns) <= numbers:
            return None
        given = "numbers"
    rest = _chain(steps) if steps else None
    if steps and (rest is None or rest.takes != given):
        return None
    if rest is not None and rest.gives == "text":
        return None
    return Plan(blocks, sparse, rest, len(columns))


def _is_passthrough(step: Any) -> bool:
    return isinstance(step, str) and step == "passthrough"


class ReplayedPipeline:
    """Predicts like the Pipeline it was planned from, on one object array of its features.

    ``final`` is the Pipeline's final estimator as a predictor (called on what the plan
    gives, as the Pipeline calls it); ``pipeline`` the Pipeline itself, which answers any
    batch the plan does not cover, on the frame ``to_frame`` builds of it. ``fallbacks``
    counts those batches (the proof at load time requires none).
    """

    def __init__(
        self,
        plan: Plan,
        final: Predictor,
        pipeline: Predictor,
        to_frame: Callable[[np.ndarray], Any],
    ) -> None:
        self.plan = plan
        self.final = final
        self.pipeline = pipeline
        self.to_frame = to_frame
        self.task: Task = pipeline.task
        self.classes: list[Any] | None = pipeline.classes
        self.fallbacks = 0

    def _transformed(self, batch: Any) -> Any:
        with predicting("sklearn"):
            try:
                return self.plan.transform(batch)
            except Outside:
                self.fallbacks += 1
                return None

    def predict(self, batch: Any) -> np.ndarray:
        transformed = self._transformed(batch)
        if transformed is None:
            return self.pipeline.predict(self.to_frame(batch))
        return self.final.predict(transformed)

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        transformed = self._transformed(batch)
        if transformed is None:
            return self.pipeline.predict_proba(self.to_frame(batch))
        return self.final.predict_proba(transformed)

    def argmax_classes(self) -> np.ndarray | None:
        hook = getattr(self.pipeline, "argmax_classes", None)
        return hook() if callable(hook) else None


class LogisticRegressionReplay:
    """A fitted LogisticRegression's probabilities on dense float64 rows, as it computes them.

    ``X @ coef_.T + intercept_``, then ``expit`` (two classes) or scikit-learn's own
    ``softmax`` (more): the arithmetic of ``predict_proba``, without its validation, which
    costs a call more than the rest of a replayed Pipeline. Anything else (sparse rows, a
    NaN or an infinity, which it refuses) goes to the estimator itself, as does ``predict``.
    """

    task: Task = "classification"

    def __init__(self, estimator: Any) -> None:
        from modelport.flavors.sklearn import SklearnPredictor

        self.estimator = SklearnPredictor(estimator)
        self.classes = self.estimator.classes
        self._coef_t = estimator.coef_.T
        self._intercept = estimator.intercept_
        self._binary = len(estimator.classes_) <= 2

    @staticmethod
    def replayable(estimator: Any) -> bool:
        return (
            _name(estimator) == "sklearn.linear_model._logistic.LogisticRegression"
            and np.asarray(getattr(estimator, "coef_", None)).dtype == np.float64
            and getattr(estimator, "classes_", None) is not None
        )

    def predict(self, batch: Any) -> np.ndarray:
        return self.estimator.predict(batch)

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        if not (
            isinstance(batch, np.ndarray)
            and batch.dtype == np.float64
            and batch.ndim == 2
            and np.isfinite(batch).all()
        ):
            return self.estimator.predict_proba(batch)
        from scipy.special import expit
        from sklearn.utils.extmath import softmax

        with predicting("sklearn"):
            scores = batch @ self._coef_t + self._intercept
            if not self._binary:
                return np.asarray(softmax(scores, copy=False))
            positive = expit(scores.reshape(-1))
            return np.stack([1 - positive, positive], axis=1)

    def argmax_classes(self) -> np.ndarray | None:
        return self.estimator.argmax_classes()
