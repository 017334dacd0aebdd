"""Registering a model: save with its flavor, infer its signature and reference profile,
record lineage, and store it as a new immutable version.

The saved artifact is loaded back and run on the sample before anything is
recorded, so a version that cannot be loaded or cannot take its own signature's
input never enters the registry.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modelport.errors import DataError, InvalidArgument
from modelport.flavors import Flavor, Predictor, detect_flavor, get_flavor
from modelport.flavors.base import Task
from modelport.reference import parse, validate_name
from modelport.registry import ModelVersion, Registry
from modelport.registry.artifacts import directory_sha256
from modelport.registry.lineage import data_sha256, git_sha
from modelport.schema import Signature, infer_signature, validate
from modelport.schema.signature import sample_to_frame
from modelport.training_sample import SAMPLE_ROWS, write_sample

#: rows of the sample handed to a flavor's ``with_example`` hook
_EXAMPLE_ROWS = 8


def register_model(
    registry: Registry,
    model: Any,
    name: str,
    *,
    sample: Any | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    parent: int | str | None = None,
    training_data: Any | None = None,
    flavor: str | None = None,
    serialization: str | None = None,
    allow_unknown_categories: bool = False,
    cwd: Path | None = None,
    labels: Any | None = None,
    declared: Signature | None = None,
    task: Task | None = None,
    sample_rows: int = SAMPLE_ROWS,
) -> ModelVersion:
    """Save ``model`` as the next version of ``name``. See :func:`modelport.register`.

    ``labels``: a classifier's training labels for the rows of ``sample``; their class counts
    join the reference profile as the prior that the feedback check compares ground truth with.
    ``declared`` is an input schema the model came with (MLflow's signature): its
    features replace those inferred from the sample, which a small input example would
    make too narrow (three rows of strings are not every category). ``task`` is what the
    registrant says the model is; a model that loads as something else is refused.
    ``sample_rows``: how many rows of ``sample`` are kept with the version (0 keeps none)
    for ``modelport optimize`` to check parity on.
    """
    validate_name(name)
    if labels is not None and sample is None:
        raise InvalidArgument(
            "labels were given without a sample", hint="pass the sample the labels belong to"
        )
    chosen = get_flavor(flavor) if flavor else detect_flavor(model)
    parent_version = _parent_version(name, parent)
    # before any work, so that a wrong path fails fast and nothing is saved
    data_digest = _training_data_sha256(training_data)
    model = _with_example(chosen, model, sample, declared, allow_unknown_categories)
    with tempfile.TemporaryDirectory(prefix="modelport-") as tmp:
        directory = Path(tmp) / "artifact"
        directory.mkdir()
        options = chosen.save(model, directory, serialization=serialization)
        signature = profile = None
        if task is not None:
            _check_task(chosen.load(directory, options, trusted=True), chosen.name, task)
        if sample is None:
            signature = declared
        else:
            frame, _ = sample_to_frame(sample)
            signature = declared or infer_signature(
                sample, allow_unknown_categories=allow_unknown_categories
            )
            # Round-trip: what we stored must load and accept its own signature's input.
            predictor = chosen.load(directory, options, trusted=True)
            predictions = np.asarray(predictor.predict(validate(signature, sample)))
            if len(predictions) != len(frame):
                raise InvalidArgument(
                    f"the model returned {len(predictions)} predictions for {len(frame)} rows",
                    hint="predict must return one prediction per input row",
                )
            if predictions.ndim != 1:
                # Caught here, not in the drift profile, so the message can say what to do.
                raise InvalidArgument(
                    f"the {chosen.name} model returned predictions of shape "
                    f"{predictions.shape} for {len(frame)} rows: modelport needs one label or "
                    "number per row",
                    hint="wrap the model in a Python function returning one value per row "
                    "(e.g. the argmax label), or register it without a sample (then it has no "
                    "signature and no drift profile)",
                )
            has_proba = predictor.predict_proba(validate(signature, frame.head(2))) is not None
            signature = infer_signature(
                sample,
                predictions=predictions,
                classes=predictor.classes,
                has_proba=has_proba,
                allow_unknown_categories=allow_unknown_categories,
                accept_unknown=_tolerant_columns(predictor, signature.names),
            )
            if declared is not None:
                signature = Signature(
                    declared.inputs,
                    input_kind=declared.input_kind,
                    outputs=signature.outputs,
                    allow_unknown_categories=allow_unknown_categories,
                )
            profile = _profile(frame, signature.categorical, predictions, predictor.classes, labels)
            write_sample(frame, directory, rows=sample_rows)
        sha, size = directory_sha256(directory)
        return registry.create_version(
            name,
            directory,
            flavor=chosen.name,
            flavor_options=options,
            artifact_sha256=sha,
            artifact_size=size,
            signature=signature.to_dict() if signature else None,
            profile=profile,
            metrics=metrics,
            tags=tags,
            git_sha=git_sha(cwd),
            data_sha256=data_digest,
            parent_version=parent_version,
            description=description,
        )


def _with_example(
    flavor: Flavor,
    model: Any,
    sample: Any | None,
    declared: Signature | None,
    allow_unknown_categories: bool,
) -> Any:
    """The model with example rows of the sample, for a flavor that asks for them.

    The rows are model-ready (validated against the signature the sample implies), so a
    flavor tracing or exporting the model sees exactly what it will be called with.
    """
    hook = getattr(flavor, "with_example", None)
    if sample is None or not callable(hook):
        return model
    signature = declared or infer_signature(
        sample, allow_unknown_categories=allow_unknown_categories
    )
    frame, _ = sample_to_frame(sample)
    return hook(model, validate(signature, frame.head(_EXAMPLE_ROWS)))


def _check_task(predictor: Predictor, flavor: str, task: Task) -> None:
    if predictor.task == task:
        return
    found = {"classification": "a classifier", "regression": "a regressor"}.get(
        predictor.task, "neither a classifier nor a regressor"
    )
    raise InvalidArgument(
        f"the model was declared a {task} model, but the {flavor} flavor reads it as {found}",
        hint="a native XGBoost or LightGBM booster is a classifier when its objective is one "
        "(binary:logistic, multi:softprob; binary, multiclass) or when it was saved from the "
        "scikit-learn wrapper (XGBClassifier.save_model); otherwise wrap the model in a "
        "Python function with classes and predict_proba",
    )


def _training_data_sha256(training_data: Any | None) -> str | None:
    if training_data is None:
        return None
    try:
        return data_sha256(training_data)
    except OSError as exc:
        raise DataError(
            f"cannot read the training data {str(training_data)!r}: {exc.strerror or exc}",
            hint="check the path: the training data file is hashed (sha256) into the lineage",
        ) from exc


def _tolerant_columns(predictor: Predictor, columns: list[str]) -> set[str]:
    """The columns the model copes with unseen categories in (an optional predictor hook)."""
    hook = getattr(predictor, "accepts_unknown_categories", None)
    return set(hook(columns)) if callable(hook) else set()


def _parent_version(name: str, parent: int | str | None) -> int | None:
    if parent is None:
        return None
    if isinstance(parent, int) and not isinstance(parent, bool):
        return parent
    ref = parse(str(parent))
    if ref.name != name or ref.version is None:
        raise InvalidArgument(
            f"parent {parent!r} must be an earlier version of {name!r}",
            hint=f"write parent={name}:N or parent=N",
        )
    return ref.version


def _profile(
    frame: Any,
    categorical: list[str],
    predictions: np.ndarray,
    classes: list[Any] | None,
    labels: Any | None = None,
) -> dict[str, Any]:
    from modelport.monitoring.profile import build_profile

    kind: Literal["class", "value"] = "class" if classes is not None else "value"
    return build_profile(
        frame,
        categorical=categorical,
        predictions=predictions,
        prediction_kind=kind,
        # a regressor's targets are no class prior
        labels=labels if classes is not None else None,
    ).to_dict()
