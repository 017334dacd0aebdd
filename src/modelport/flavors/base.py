"""The flavor contract: how one kind of model is saved, loaded and called.

A flavor is a small stateless object with four members. Framework code lives
only in the flavor modules and is imported lazily, inside ``save``/``load``,
so that ``import modelport`` never pulls in xgboost, lightgbm or onnx.

``Predictor`` is what ``load`` returns: the runtime model. It is called on a
*batch* that the signature already validated: a pandas DataFrame (columns in
signature order, dtypes coerced) when the model was trained on a frame, or a
2-D NumPy array when it was trained on an array. It returns one prediction per
row, so the batch length is always preserved.

The runtime contract is :class:`Predictor` plus optional hooks, optional so that
predictors written before them, or outside modelport, still satisfy it. Serving, batch
scoring and (later) explanations call these and never reach into a flavor's internals:

* ``accepts_unknown_categories(columns) -> set[str]``: the input columns where the model
  copes with categories it never saw (a scikit-learn ``OneHotEncoder(handle_unknown=
  "ignore")``); registration records its answer in the signature.
* ``argmax_classes() -> ndarray | None``: the labels when ``predict`` is exactly the class
  of highest ``predict_proba`` (ties to the first), so that one ``predict_proba`` call
  gives both outputs (a forest would otherwise run every tree twice).
* ``for_arrays(columns) -> Predictor | None``: for a model trained on a frame of float64
  numbers named ``columns`` (in that order), a predictor of the same model taking one 2-D
  array of them instead, without its library's per-call work on a frame (feature-name
  checks, pandas conversion); None when there is no such shortcut. The runtime takes it
  only after it gave exactly the frame's outputs on the version's kept training rows.
* ``for_mixed_arrays(columns, numbers, to_frame) -> Predictor | None``: the same for a model
  trained on a frame of numbers and text (a scikit-learn Pipeline replayed in NumPy,
  :mod:`.pipeline_plan`): it takes one 2-D object array of ``columns`` in order (those in
  ``numbers`` as floats, the others text) and hands a batch it does not cover to the model
  itself on ``to_frame(array)``. Taken under the same proof.
* ``close() -> None``: release what the model holds (sessions, threads) when a version is
  unloaded; the runtime calls it once, after the last prediction.

A flavor may have one optional hook too: ``with_example(obj, inputs) -> obj``, given
model-ready rows of the registration sample before ``save``, returns the object to save
with them attached. A flavor that must trace or export a model (PyTorch) needs example
input that the object itself does not carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

Task = Literal["classification", "regression", "other"]


@runtime_checkable
class Predictor(Protocol):
    """A loaded model, ready to predict."""

    task: Task
    #: class labels in the column order of ``predict_proba``; None for regressors
    classes: list[Any] | None

    def predict(self, batch: Any) -> np.ndarray:
        """One prediction per row of ``batch``."""
        ...

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        """Class probabilities (rows x classes), or None when the model has none."""
        ...


class Flavor(Protocol):
    """Saves, loads and recognises one kind of model."""

    #: stable identifier recorded with each version: "sklearn", "xgboost", ...
    name: ClassVar[str]
    #: the pip extra that installs this flavor's library, or None if always present
    extra: ClassVar[str | None]

    def handles(self, obj: Any) -> bool:
        """True if this flavor can save ``obj``. Must not import heavy libraries."""
        ...

    def save(
        self, obj: Any, directory: Path, *, serialization: str | None = None
    ) -> dict[str, Any]:
        """Write ``obj`` into the empty ``directory``; return JSON-able load options."""
        ...

    def load(self, directory: Path, options: dict[str, Any], *, trusted: bool) -> Predictor:
        """Read what ``save`` wrote. ``trusted`` permits pickle-based formats."""
        ...
