"""A loaded model version: validates its input against the signature, then predicts.

:meth:`LoadedModel.outputs` is the one place a model's outputs are produced for callers
that answer clients (the Python API and the server): it computes probabilities in the same
call where that is exact, and it refuses outputs that are not finite numbers rather than
letting them through as ``null``/``NaN``.

Input reaches the model in two steps, so that a server pays for a DataFrame once per batch:
:meth:`LoadedModel.columns` validates one request into plain columns, and
:meth:`LoadedModel.assemble` builds the model-ready input of many (``prepare`` is both).
Where it is proven safe at load time, a model trained on a frame of float64 numbers is
called on one array instead (:func:`array_predictor`), and a Pipeline trained on a frame of
numbers and text on one object array of them (:func:`mixed_predictor`): no frame is built.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelport.errors import (
    InvalidArgument,
    NonFinitePrediction,
    PredictionError,
    UntrustedArtifactError,
)
from modelport.flavors import get_flavor
from modelport.flavors.base import Predictor
from modelport.reference import Reference
from modelport.registry import ModelVersion, Registry
from modelport.schema import Signature, validate
from modelport.schema.columns import (
    assemble,
    layout_of,
    matrix,
    mixed_columns,
    mixed_matrix,
)
from modelport.schema.validation import require_rows, validate_columns
from modelport.training_sample import read_sample


class LoadedModel:
    """A registered version in memory. ``predict`` takes any input shape ``validate`` accepts."""

    def __init__(
        self,
        version: ModelVersion,
        predictor: Predictor,
        load_seconds: float,
        *,
        on_arrays: Predictor | None = None,
        on_mixed_arrays: Predictor | None = None,
    ) -> None:
        self.version = version
        self.predictor = predictor
        self.load_seconds = load_seconds
        self._closed = False
        self.signature = Signature.from_dict(version.signature) if version.signature else None
        #: the same model called on one float64 array instead of a frame (proven at load
        #: time to answer exactly as on the frame); None: it gets its frame
        self.on_arrays = on_arrays
        #: the same model called on one 2-D object array of its numbers and text (proven
        #: at load time, :func:`mixed_predictor`); None: it gets its frame
        self.on_mixed_arrays = on_mixed_arrays

    @property
    def ref(self) -> Reference:
        return self.version.ref

    @property
    def classes(self) -> list[Any] | None:
        return self.predictor.classes

    def prepare(self, data: Any, *, extra: str = "error") -> Any:
        """Validated, model-ready input (raises ValidationError listing every bad field)."""
        return self.assemble([self.columns(data, extra=extra)])

    def columns(self, data: Any, *, extra: str = "error") -> Any:
        """One request validated into plain columns (:class:`Columns`), no DataFrame built.

        Raises ValidationError listing every bad field. Without a signature, ``data`` as is.
        """
        if self.signature is None:
            return data
        return validate_columns(self.signature, data, extra=extra)  # type: ignore[arg-type]

    def assemble(self, parts: Sequence[Any]) -> Any:
        """The model-ready input of requests' :meth:`columns`, built once for all of them."""
        if self.signature is None:  # unvalidated input: joined as it came
            if len(parts) == 1:
                return parts[0]
            if isinstance(parts[0], pd.DataFrame):
                return pd.concat(parts, ignore_index=True)
            return np.concatenate(parts)
        if self.signature.input_kind == "dataframe":
            if self.on_arrays is not None:
                return matrix(self.signature, parts)
            if self.on_mixed_arrays is not None:
                return mixed_matrix(self.signature, parts)
        return assemble(self.signature, parts)

    def predict(self, data: Any) -> np.ndarray:
        """Predictions for every row of ``data`` (validated against the signature first).

        Raises NonFinitePrediction naming the rows whose prediction is infinite or NaN.
        """
        prepared = self.prepare(data)
        require_rows(prepared)  # models fail on zero rows in their own ways
        predictions, proba = self.outputs(prepared)
        raise_non_finite(predictions)
        if proba is not None:  # the labels came from these probabilities
            raise_non_finite(proba, output="class probabilities")
        return predictions

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities; raises if the model has none, or if any is not finite."""
        prepared = self.prepare(data)
        require_rows(prepared)
        _, proba = self.outputs(prepared, proba=True)
        if proba is None:
            raise InvalidArgument(  # the caller's mistake, not a fault of the model
                f"{self.ref} has no class probabilities",
                hint="use predict(); only classifiers with predict_proba give probabilities",
            )
        raise_non_finite(proba, output="class probabilities")
        return proba

    def outputs(
        self, prepared: Any, *, proba: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions of ``prepared`` and class probabilities when asked or free.

        ``prepared`` is what :meth:`prepare` returned (one request or many concatenated).
        Where ``predict`` is exactly the argmax of ``predict_proba`` the labels come from
        one ``predict_proba`` call, and its probabilities are returned even if not asked:
        they cost nothing more, and they show a NaN that the labels would hide (argmax
        of a NaN decision is a valid-looking class). Otherwise probabilities are computed
        only if ``proba`` and the model has them.

        NumPy's overflow warnings are silenced because callers check the outputs instead
        (:func:`non_finite_rows`): a warning per hostile request tells the operator
        nothing the error to its client does not.
        """
        try:
            return self._outputs(prepared, proba)
        except NonFinitePrediction:
            raise
        except PredictionError as exc:
            # the flavor says what failed; the caller (a 500's reader) needs which model it was
            raise PredictionError(f"{self.ref}: {exc.message}", hint=exc.hint) from exc

    def _outputs(self, prepared: Any, proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
        predictor = self.predictor
        if isinstance(prepared, np.ndarray):  # what assemble built for the proven twin
            if self.on_arrays is not None:
                predictor = self.on_arrays
            elif self.on_mixed_arrays is not None:
                predictor = self.on_mixed_arrays
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            labels = argmax_classes(predictor)
            if labels is not None:  # what the estimator's own predict computes
                probabilities = np.asarray(predictor.predict_proba(prepared))
                return labels.take(np.argmax(probabilities, axis=1)), probabilities
            predictions = np.asarray(predictor.predict(prepared))
            if not proba:
                return predictions, None
            given = predictor.predict_proba(prepared)
            return predictions, None if given is None else np.asarray(given)

    def close(self) -> None:
        """Release what the model holds (the predictor's optional ``close`` hook); idempotent."""
        hook = getattr(self.predictor, "close", None)
        if callable(hook) and not self._closed:
            self._closed = True
            hook()

    def __repr__(self) -> str:
        return f"LoadedModel({self.ref}, flavor={self.version.flavor!r})"


def load_model(
    registry: Registry, ref: str | Reference, *, trusted: bool | None = None
) -> LoadedModel:
    """Resolve ``ref``, fetch and verify the artifact (sha256), and load it with its flavor."""
    version = registry.get(ref)
    allowed = registry.settings.trust_pickles if trusted is None else trusted
    started = time.perf_counter()
    directory = registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256)
    flavor = get_flavor(version.flavor)
    try:
        predictor = flavor.load(directory, version.flavor_options, trusted=allowed)
    except UntrustedArtifactError as exc:
        raise UntrustedArtifactError(
            f"{version.ref}: {exc.message}",
            hint=exc.hint or "pass trusted=True or set MODELPORT_TRUST_PICKLES=1",
        ) from exc
    signature = Signature.from_dict(version.signature) if version.signature else None
    twin = array_predictor(predictor, signature, directory)
    mixed = None if twin is not None else mixed_predictor(predictor, signature, directory)
    return LoadedModel(
        version, predictor, time.perf_counter() - started, on_arrays=twin, on_mixed_arrays=mixed
    )


def array_predictor(
    predictor: Predictor, signature: Signature | None, directory: Path
) -> Predictor | None:
    """A faster predictor of the same model on its array input, or None.

    For a model trained on an array, or on a frame of float64 numbers (the frame is then
    nothing but the array with names): the flavor's optional ``for_arrays`` hook offers a
    predictor that skips its library's per-call work (scikit-learn's feature-name checks,
    LightGBM's pandas conversion, a forest's per-tree Python), and it is taken only if it
    gives exactly the model's own outputs (labels and probabilities, bit for bit, without a
    warning) on the rows kept at registration. No kept rows, no hook, any difference,
    warning or failure: None, and the model is called as it always was.
    """
    if signature is None:
        return None
    frame_trained = signature.input_kind == "dataframe"
    if frame_trained and not layout_of(signature).all_float64:
        return None
    hook = getattr(predictor, "for_arrays", None)
    if not callable(hook):
        return None
    try:
        sample = read_sample(directory)
        if sample is None or sample.empty:
            return None
        twin = hook(signature.names)
        if twin is None:
            return None
        frame = validate(signature, sample)  # what the model gets otherwise
        array = matrix(signature, [validate_columns(signature, sample)]) if frame_trained else frame
    except Exception:  # in doubt: the frame
        return None
    return twin if proven(predictor, frame, twin, array) else None


def mixed_predictor(
    predictor: Predictor, signature: Signature | None, directory: Path
) -> Predictor | None:
    """A faster predictor of a Pipeline trained on a frame of numbers and text, or None.

    The flavor's optional ``for_mixed_arrays`` hook offers the model on one 2-D object array
    of its features (:func:`~modelport.schema.columns.mixed_matrix`: no frame built per batch;
    a scikit-learn Pipeline replayed in NumPy, :mod:`modelport.flavors.pipeline_plan`), and it
    is taken only if it gives exactly the model's own outputs on the kept training rows, as
    :func:`array_predictor` requires, without handing any of them back to the model.
    """
    if signature is None or signature.input_kind != "dataframe":
        return None
    layout = layout_of(signature)
    if not layout.numbers_and_text or layout.all_float64:
        return None
    hook = getattr(predictor, "for_mixed_arrays", None)
    if not callable(hook):
        return None
    numbers = frozenset(f.name for f in layout.numeric)

    def to_frame(array: np.ndarray) -> pd.DataFrame:  # what the model gets otherwise
        return assemble(signature, [mixed_columns(signature, array)])  # type: ignore[no-any-return]

    try:
        sample = read_sample(directory)
        if sample is None or sample.empty:
            return None
        twin = hook(signature.names, numbers, to_frame)
        if twin is None:
            return None
        frame = validate(signature, sample)
        array = mixed_matrix(signature, [validate_columns(signature, sample)])
    except Exception:  # in doubt: the frame
        return None
    return twin if proven(predictor, frame, twin, array) else None


def proven(predictor: Predictor, frame: Any, twin: Predictor, array: Any) -> bool:
    """Whether ``twin`` on ``array`` answers exactly as ``predictor`` on ``frame``, by itself.

    Labels and probabilities bit for bit, no warning, and no batch handed back to the model
    (a twin's ``fallbacks`` count, when it has one, must stay zero). Any failure: False.
    """
    try:
        # recorded, never raised: a server loads versions in a thread while others predict,
        # and an error filter would turn their warnings into failed requests (one of theirs
        # caught here only makes this proof refuse, the safe side)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            same = same_outputs(predictor, frame, twin, array)
    except Exception:  # in doubt: the frame
        return False
    return same and not caught and not getattr(twin, "fallbacks", 0)


def same_outputs(first: Predictor, first_input: Any, second: Predictor, second_input: Any) -> bool:
    """Whether two predictors give identical labels and probabilities on their inputs."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if not _identical(first.predict(first_input), second.predict(second_input)):
            return False
        return _identical(first.predict_proba(first_input), second.predict_proba(second_input))


def _identical(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    left, right = np.asarray(a), np.asarray(b)
    return left.dtype == right.dtype and np.array_equal(
        left, right, equal_nan=left.dtype.kind == "f"
    )


def argmax_classes(predictor: Any) -> np.ndarray | None:
    """The labels when the predictor's ``predict`` is the argmax of ``predict_proba``.

    ``labels.take(argmax)`` is then exactly its ``predict``, dtype included; None for every
    other model, which must be asked for its predictions separately. The predictor says so
    through its optional ``argmax_classes`` hook (:mod:`modelport.flavors.base`).
    """
    hook = getattr(predictor, "argmax_classes", None)
    return hook() if callable(hook) else None


def non_finite_rows(values: np.ndarray) -> np.ndarray:
    """A boolean mask of the rows of ``values`` holding an infinite or NaN number.

    Labels that are not numbers (strings, objects) are never non-finite; an object array
    is scanned value by value since a Python model may return floats in one.
    """
    array = np.asarray(values)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.size == 0 or array.dtype.kind not in "fcO":
        return np.zeros(len(array), dtype=bool)
    rows = array.reshape(len(array), -1)
    if array.dtype.kind == "O":
        bad = np.array(
            [[isinstance(v, float) and not math.isfinite(v) for v in row] for row in rows],
            dtype=bool,
        ).reshape(rows.shape)
    else:
        bad = ~np.isfinite(rows)
    return np.asarray(bad.any(axis=1))


def raise_non_finite(values: np.ndarray, *, output: str = "prediction") -> None:
    """NonFinitePrediction naming the rows of ``values`` that are infinite or NaN, if any."""
    bad = non_finite_rows(values)
    if bad.any():
        raise NonFinitePrediction(np.flatnonzero(bad).tolist(), output=output)
