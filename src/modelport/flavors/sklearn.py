"""scikit-learn estimators and pipelines, saved with skops by default.

skops stores objects without pickle and lists the types it would have to
instantiate that are not on its safe list. We record that list at save time;
the registry checks the artifact's sha256 before ``load``, so the recorded
types are exactly what the registrant accepted, and any other type appearing
in the file at load time means the file is not what was saved. joblib and
pickle are available when asked for explicitly, and load only when trusted.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from modelport.errors import ArtifactError, FlavorError, UntrustedArtifactError
from modelport.flavors._common import (
    artifact_file,
    class_in_mro,
    collector_paused,
    plain_list,
    predicting,
    require_trust,
    translate,
    unknown_serialization,
)
from modelport.flavors._skops import is_default_estimator, library_class, own_audit, skops_io
from modelport.flavors.base import Predictor, Task

_FILES = {"skops": "model.skops", "joblib": "model.joblib", "pickle": "model.pkl"}
#: libraries whose own classes a skops file may use without explicit trust
_OWN_LIBRARIES = ("sklearn", "numpy")


def foreign_types(types: Iterable[str]) -> list[str]:
    """The skops type names that are not classes of scikit-learn or NumPy themselves.

    skops distrusts some of scikit-learn's own classes (``sklearn.tree._tree.Tree``
    in every forest), yet a file using only those is as safe as scikit-learn is.
    A name is trusted only when it resolves to a real class whose own module and
    name are exactly that name: a prefix test alone would let through names such as
    ``sklearn.foo:os.system`` or a function re-exported from a sklearn module.
    """
    return sorted(t for t in types if not _is_own_class(t))


def _is_own_class(name: str) -> bool:
    cls = library_class(name, _OWN_LIBRARIES)
    return cls is not None and f"{cls.__module__}.{cls.__qualname__}" == name


# Estimators whose ``predict`` is the class of highest ``predict_proba`` (ties to the first
# class, as ``np.argmax``), read from their source: checked in tests on every one of them.
ARGMAX_ESTIMATORS = frozenset(
    {
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.ExtraTreeClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.linear_model._logistic.LogisticRegression",
    }
)


#: composites that select their input columns by name: they always get their frame
_FRAME_STEPS = frozenset({"Pipeline", "ColumnTransformer", "FeatureUnion"})


class SklearnPredictor:
    """Calls a fitted estimator; ``transform`` stands in for ``predict`` on transformers."""

    def __init__(self, estimator: Any) -> None:
        from sklearn.base import is_classifier, is_regressor

        self.estimator = estimator
        classes = getattr(estimator, "classes_", None)
        self.task: Task
        self.classes: list[Any] | None = None
        if is_classifier(estimator) and classes is not None and np.ndim(classes) == 1:
            self.task = "classification"
            self.classes = plain_list(classes)
        elif is_regressor(estimator):
            self.task = "regression"
        else:
            self.task = "other"

    def predict(self, batch: Any) -> np.ndarray:
        with predicting("sklearn"):
            if hasattr(self.estimator, "predict"):
                return np.asarray(self.estimator.predict(batch))
            return np.asarray(self.estimator.transform(batch))

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        if not hasattr(self.estimator, "predict_proba"):
            return None
        with predicting("sklearn"):
            return np.asarray(self.estimator.predict_proba(batch))

    def for_arrays(self, columns: Sequence[str]) -> Predictor | None:
        """The estimator on arrays of ``columns`` in order, without per-call frame work.

        A forest classifier is walked in NumPy (:mod:`.forest`: the same arithmetic without
        scikit-learn's per-tree Python). Any other plain estimator trained on a frame is a
        shallow copy without its feature names (sharing every fitted array): scikit-learn
        checks a frame's names against ``feature_names_in_`` on every call and converts the
        frame, and warns on an array when the estimator has names. Only a scikit-learn
        class whose names, if it has any, are exactly ``columns``: a Pipeline or
        ColumnTransformer selects columns by name and keeps its frame, and a subclass may
        read the names in its own code. A Pipeline of known steps is replayed
        (:meth:`for_mixed_arrays`).
        """
        import copy

        from modelport.flavors.forest import ForestWalker, walkable

        estimator = self.estimator
        cls = type(estimator)
        if _is_pipeline(estimator):
            return self.for_mixed_arrays(columns, frozenset(columns), _float_frame(columns))
        if not cls.__module__.startswith("sklearn.") or cls.__name__ in _FRAME_STEPS:
            return None
        names = getattr(estimator, "feature_names_in_", None)
        if names is not None and [str(n) for n in names] != list(columns):
            return None
        if walkable(estimator):
            return ForestWalker(estimator)
        if names is None:
            return None  # already called on arrays: nothing to skip
        twin = copy.copy(estimator)
        del twin.feature_names_in_
        return SklearnPredictor(twin)

    def for_mixed_arrays(
        self,
        columns: Sequence[str],
        numbers: frozenset[str],
        to_frame: Callable[[np.ndarray], Any],
    ) -> Predictor | None:
        """A Pipeline replayed on one 2-D object array of ``columns`` in order (those in
        ``numbers`` float64 or integer numbers, held as floats, the others text), without its
        per-call frame work.

        Every transforming step must be a scikit-learn transformer read by
        :mod:`.pipeline_plan`; the final estimator is called on the replayed steps' output
        (a forest walked in NumPy, :mod:`.forest`; a LogisticRegression's probabilities
        computed as it computes them). A batch the replay does not cover goes
        to the Pipeline, on ``to_frame`` of it. None for anything else.
        """
        from modelport.flavors.forest import ForestWalker, walkable
        from modelport.flavors.pipeline_plan import (
            LogisticRegressionReplay,
            ReplayedPipeline,
            plan_pipeline,
        )

        if not _is_pipeline(self.estimator):
            return None
        plan = plan_pipeline(self.estimator, list(columns), numbers)
        if plan is None:
            return None
        final = self.estimator.steps[-1][1]
        if final is None or isinstance(final, str):
            return None
        called: Predictor = SklearnPredictor(final)
        if walkable(final):
            called = ForestWalker(final)
        elif LogisticRegressionReplay.replayable(final):
            called = LogisticRegressionReplay(final)
        return ReplayedPipeline(plan, called, self, to_frame)

    def argmax_classes(self) -> np.ndarray | None:
        """``classes_`` when the (final) estimator's predict is the argmax of its probabilities.

        Asked once per batch: the answer is fixed for a fitted estimator, so it is cached.
        """
        if not hasattr(self, "_argmax"):
            self._argmax = self._find_argmax_classes()
        return self._argmax

    def _find_argmax_classes(self) -> np.ndarray | None:
        estimator = self.estimator
        if type(estimator).__name__ == "Pipeline":
            estimator = estimator.steps[-1][1]
        name = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
        classes = getattr(estimator, "classes_", None)
        if name not in ARGMAX_ESTIMATORS or classes is None or np.ndim(classes) != 1:
            return None
        return np.asarray(classes)

    def accepts_unknown_categories(self, columns: Sequence[str]) -> set[str]:
        """The input columns whose values unseen at fit time the estimator copes with."""
        return tolerant_columns(self.estimator, list(columns))


def _is_pipeline(estimator: Any) -> bool:
    cls = type(estimator)
    return f"{cls.__module__}.{cls.__qualname__}" == "sklearn.pipeline.Pipeline"


def _float_frame(columns: Sequence[str]) -> Callable[[np.ndarray], Any]:
    """The frame of a 2-D float array with ``columns``: what a Pipeline gets otherwise."""
    import pandas as pd

    names = list(columns)
    return lambda array: pd.DataFrame(array, columns=names)


def tolerant_columns(estimator: Any, columns: list[str]) -> set[str]:
    """Which of ``columns`` (the estimator's input, in order) may hold unseen categories.

    A column is tolerant when what first looks at its values copes with new ones:
    ``OneHotEncoder(handle_unknown="ignore" | "infrequent_if_exist" | "warn")``,
    ``OrdinalEncoder(handle_unknown="use_encoded_value")``, ``TargetEncoder``, or a
    ColumnTransformer that drops it. Pipelines are followed through steps that pass
    values on unchanged (``SimpleImputer``, ``"passthrough"``). Anything not recognised
    counts as intolerant, so a wrong answer can only refuse a value, never pass one
    to a model that would fail on it.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, str):
        return set(columns) if estimator == "drop" else set()
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            if step is None or step == "passthrough" or isinstance(step, SimpleImputer):
                continue
            return tolerant_columns(step, columns)
        return set()
    if isinstance(estimator, ColumnTransformer):
        return _tolerant_in_column_transformer(estimator, columns)
    return set(columns) if _tolerant_encoder(estimator) else set()


def _tolerant_in_column_transformer(transformer: Any, columns: list[str]) -> set[str]:
    names = [str(n) for n in getattr(transformer, "feature_names_in_", columns)]
    accepted: set[str] = set()
    refused: set[str] = set()
    for _, step, selection in getattr(transformer, "transformers_", []):
        selected = _selected_columns(names, selection)
        if selected is None:
            return set()  # cannot tell which columns it reads, so none is known tolerant
        tolerant = tolerant_columns(step, selected)
        accepted |= tolerant
        refused |= set(selected) - tolerant
    # a column read by several transformers is tolerant only if all of them are
    return accepted - refused


def _selected_columns(names: list[str], selection: Any) -> list[str] | None:
    """The column names a fitted ColumnTransformer entry reads; None when not resolvable."""
    try:
        if isinstance(selection, str):
            return [selection]
        if isinstance(selection, (int, np.integer)):
            return [names[int(selection)]]
        if isinstance(selection, slice):
            if isinstance(selection.start, str) or isinstance(selection.stop, str):
                # label slices include their end, as in pandas .loc
                start = names.index(selection.start) if selection.start is not None else 0
                stop = names.index(selection.stop) + 1 if selection.stop is not None else None
                return names[start:stop]
            return names[selection]
        array = np.asarray(selection)
        if array.ndim != 1:
            return None
        if array.dtype == bool:
            return [n for n, keep in zip(names, array, strict=True) if keep]
        if array.dtype.kind in "iu":
            return [names[int(i)] for i in array]
        if array.dtype.kind in "OU":
            return [str(n) for n in array]
    except (IndexError, ValueError):
        return None
    return None


def _tolerant_encoder(estimator: Any) -> bool:
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, TargetEncoder

    handle = getattr(estimator, "handle_unknown", None)
    if isinstance(estimator, OneHotEncoder):
        return handle in ("ignore", "infrequent_if_exist", "warn")
    if isinstance(estimator, OrdinalEncoder):
        return handle == "use_encoded_value"
    # TargetEncoder encodes a category it never saw as the overall target mean
    return isinstance(estimator, TargetEncoder)


class SklearnFlavor:
    """Any object whose class derives from a scikit-learn class (estimators, Pipelines)."""

    name: ClassVar[str] = "sklearn"
    extra: ClassVar[str | None] = None

    def handles(self, obj: Any) -> bool:
        return not isinstance(obj, type) and class_in_mro(obj, "sklearn")

    def save(
        self, obj: Any, directory: Path, *, serialization: str | None = None
    ) -> dict[str, Any]:
        import sklearn

        serialization = serialization or "skops"
        if serialization not in _FILES:
            raise unknown_serialization(self.name, serialization, list(_FILES))
        path = Path(directory) / _FILES[serialization]
        options: dict[str, Any] = {
            "serialization": serialization,
            "file": path.name,
            "sklearn_version": sklearn.__version__,
        }
        with translate(FlavorError, f"cannot save {type(obj).__name__} with {serialization}"):
            if serialization == "skops":
                sio = skops_io()
                # deflated: skops writes a JSON schema per tree node array, ~25 KB a tree
                # uncompressed (a 100-tree forest is 2 MB; 0.2 MB deflated, read as fast)
                sio.dump(obj, path, compression=zipfile.ZIP_DEFLATED)
                options["trusted_types"] = [
                    name for name in _untrusted_types(sio, path) if not is_default_estimator(name)
                ]
            elif serialization == "joblib":
                import joblib

                joblib.dump(obj, path)
            else:
                with path.open("wb") as fh:
                    pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return options

    def load(self, directory: Path, options: dict[str, Any], *, trusted: bool) -> Predictor:
        serialization = options.get("serialization", "skops")
        if serialization not in _FILES:
            raise ArtifactError(f"unknown sklearn serialization {serialization!r} in load options")
        path = artifact_file(directory, options, _FILES[serialization])
        if serialization != "skops":
            require_trust(trusted, serialization, path)
        with collector_paused():  # the first load imports scikit-learn
            if serialization == "skops":
                estimator = _load_skops(path, list(options.get("trusted_types", [])))
            else:
                with translate(ArtifactError, f"cannot load {path.name}"):
                    if serialization == "joblib":
                        import joblib

                        estimator = joblib.load(path)
                    else:
                        with path.open("rb") as fh:
                            estimator = pickle.load(fh)
            return SklearnPredictor(estimator)


def _load_skops(path: Path, recorded: list[str]) -> Any:
    """Load a skops file, trusting exactly the types accepted when it was saved.

    Those are the recorded types plus what skops trusts by default; of its defaults,
    the scikit-learn estimators are told apart one type at a time (``_skops``) instead
    of by skops' scan of every scikit-learn module.
    """
    sio = skops_io()
    with translate(ArtifactError, f"cannot read {path.name}"):
        found = _untrusted_types(sio, path)
    defaults = [name for name in found if name not in recorded and is_default_estimator(name)]
    unexpected = sorted(set(found) - set(recorded) - set(defaults))
    if unexpected:
        raise UntrustedArtifactError(
            f"{path.name} contains types that were not present when it was saved: "
            + ", ".join(unexpected),
            hint="the artifact was replaced; register the model again from a trusted source",
        )
    with translate(ArtifactError, f"cannot load {path.name}"), own_audit():
        return sio.load(path, trusted=[*recorded, *defaults])


def _untrusted_types(sio: Any, path: Path) -> list[str]:
    """skops' untrusted types of a file, scikit-learn's estimators among them."""
    with own_audit():
        return sorted(sio.get_untrusted_types(file=path))


SKLEARN = SklearnFlavor()
