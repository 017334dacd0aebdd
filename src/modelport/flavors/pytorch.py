"""PyTorch models as TorchScript (``.pt``) or ``torch.export`` programs (``.pt2``), on the CPU.

Neither format is a pickle of the model's Python code: a TorchScript archive holds code
for TorchScript's own interpreter, a ``torch.export`` archive an ATen graph and its
weights. So both load without ``trusted=True``, like the other non-pickle flavors.

What is saved: a ``torch.jit.ScriptModule`` as TorchScript, a
``torch.export.ExportedProgram`` as a program, and a live ``torch.nn.Module`` exported
with a dynamic batch dimension (``torch.export``) when example input is at hand (the
registration sample gives it), else scripted (``torch.jit.script``, which needs none;
``serialization="torchscript"`` asks for it, falling back to tracing on the example).
Wrap any of them in :class:`TorchModel` to say what the outputs mean and how to run it.

The module takes one float32 tensor ``(rows, features)``, the columns in the
signature's order, and returns one tensor. Without ``classes`` it is a regressor: one
value per row (``(n,)`` or ``(n, 1)``, flattened), or a wider output as task "other".
With ``classes`` it is a classifier and ``outputs`` must say what its scores are:
``"logits"`` (softmax over the classes; a single column for two classes is the logit of
the second, through a sigmoid) or ``"probabilities"`` (used as they are). ``predict``
is the class of highest probability, so one forward pass gives labels and probabilities.

Inference runs under ``torch.inference_mode()`` in chunks of ``batch_size`` rows, which
bounds the memory of a large batch-scoring call. A program exported with a fixed batch
size is fed chunks of exactly that size, the last one padded. ``num_threads`` (recorded
at registration, default 1 like the ONNX flavor: a server runs several requests at once)
is applied with ``torch.set_num_threads`` when the model loads; PyTorch has only one
intra-op pool per process, so the last model loaded sets it for all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from modelport.errors import ArtifactError, ConfigurationError, FlavorError
from modelport.flavors._common import (
    artifact_file,
    class_in_mro,
    import_optional,
    plain_list,
    predicting,
    translate,
    unknown_serialization,
)
from modelport.flavors.base import Predictor, Task

Outputs = Literal["logits", "probabilities"]
Format = Literal["torchscript", "export"]
FORMATS: tuple[str, ...] = ("torchscript", "export")
_FILES = {"torchscript": "model.pt", "export": "model.pt2"}
_OUTPUTS = ("logits", "probabilities")
#: rows per forward pass unless the registrant says otherwise
DEFAULT_BATCH_SIZE = 1024
#: example rows kept to export or trace a live module (a dynamic batch dimension needs 2+)
_EXAMPLE_ROWS = 8
#: how far a row of "probabilities" may sum from 1 before the option is judged wrong
_PROBABILITY_SLACK = 1e-3

log = logging.getLogger("modelport.flavors")


def import_torch() -> ModuleType:
    """The torch module, or MissingExtraError naming the ``torch`` extra."""
    return import_optional("torch", "torch")


@contextlib.contextmanager
def torch_quiet() -> Iterator[None]:
    """PyTorch's own deprecation notices and exporter chatter, silenced while we call it.

    TorchScript is deprecated upstream but is one of the two formats users hand us, and
    the ONNX exporter logs a warning per torchvision operator it cannot register: neither
    tells a modelport user anything they can act on, and a CLI that prints ``--json``
    must not interleave them. Only PyTorch's messages are filtered; our errors still say
    what failed.
    """
    exporter = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = exporter.level
    exporter.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.")
            warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated")
            warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export")
            warnings.filterwarnings("ignore", message=r".*The feature will be removed")
            warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec")
            warnings.filterwarnings(
                "ignore", message=r"no signature found for <torch\.ScriptMethod"
            )
            yield
    finally:
        exporter.setLevel(level)


@dataclass(frozen=True)
class TorchModel:
    """A PyTorch model plus what its outputs mean and how to run it, for registration.

        net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        modelport.register(TorchModel(net, classes=["a", "b", "c"], outputs="logits"),
                           "species", sample=X_train)

    ``model``: a ``torch.nn.Module``, ``torch.jit.ScriptModule`` or
    ``torch.export.ExportedProgram``. ``example``: a few input rows to export or trace a
    live module with (registration fills it from the sample when it is None).
    ``format``: "export" or "torchscript" for a live module (see the module docstring).
    """

    model: Any
    classes: Sequence[Any] | None = None
    outputs: Outputs | None = None
    example: Any = None
    format: Format | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        if self.classes is not None and len(self.classes) < 2:
            raise ConfigurationError(
                f"a classifier needs at least two classes, not {list(self.classes)!r}",
                hint="give every label the model can predict, in the order of its output columns",
            )
        if self.classes is not None and self.outputs not in _OUTPUTS:
            raise ConfigurationError(
                "a PyTorch classifier must say what its output scores are",
                hint="pass outputs='logits' (softmax is applied) or outputs='probabilities' "
                "(used as they are)",
            )
        if self.classes is None and self.outputs is not None:
            raise ConfigurationError(
                f"outputs={self.outputs!r} describes class scores, but no classes were given",
                hint="pass classes=[...] in the order of the output columns, or leave outputs "
                "unset for a regressor",
            )
        if self.format is not None and self.format not in FORMATS:
            raise ConfigurationError(
                f"unknown PyTorch format {self.format!r}", hint=f"use one of: {', '.join(FORMATS)}"
            )
        if self.batch_size < 1:
            raise ConfigurationError(
                f"batch_size must be at least 1, not {self.batch_size}",
                hint=f"leave it at {DEFAULT_BATCH_SIZE}, or lower it to bound memory",
            )
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigurationError(
                f"num_threads must be at least 1, not {self.num_threads}",
                hint="None leaves PyTorch's own thread setting alone",
            )


class TorchPredictor:
    """A TorchScript module or the module of an exported program, called in chunks."""

    def __init__(
        self,
        module: Any,
        *,
        program: Any = None,
        classes: list[Any] | None = None,
        outputs: Outputs | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        n_features: int | None = None,
        task: Task | None = None,
    ) -> None:
        self._torch = import_torch()
        self.module: Any = module
        #: the ExportedProgram when the artifact is one (ONNX conversion exports it directly)
        self.program: Any = program
        self.classes = classes
        self.outputs = outputs
        self.batch_size = batch_size
        self.n_features = n_features
        #: the batch size a program was exported with, when it has no dynamic batch dimension
        self.fixed_batch = _fixed_batch(program)
        self.task: Task = "classification" if classes is not None else (task or "regression")

    def features(self, batch: Any) -> np.ndarray:
        """The batch as the float32 ``(rows, features)`` matrix the module takes."""
        return feature_matrix(batch, self.n_features)

    def scores(self, batch: Any) -> Any:
        """The module's raw output tensor for the whole batch, computed chunk by chunk."""
        torch = self._torch
        array = self.features(batch)
        step = self.fixed_batch or self.batch_size
        parts = []
        with predicting("pytorch"), torch.inference_mode():
            for start in range(0, len(array), step):
                chunk = torch.from_numpy(array[start : start + step])
                rows = len(chunk)
                if self.fixed_batch is not None and rows < step:
                    padding = chunk.new_zeros((step - rows, chunk.shape[1]))
                    chunk = torch.cat([chunk, padding])
                output = self.module(chunk)
                if not isinstance(output, torch.Tensor):
                    raise FlavorError(
                        f"the pytorch model returned a {type(output).__name__}, not one tensor",
                        hint="register a module whose forward returns a single tensor",
                    )
                parts.append(output[:rows])
            if not parts:
                return None
            return torch.cat(parts).float()

    def predict(self, batch: Any) -> np.ndarray:
        if self.classes is not None:
            proba = self.predict_proba(batch)
            assert proba is not None
            return np.asarray(np.asarray(self.classes)[np.argmax(proba, axis=1)])
        output = self.scores(batch)
        if output is None:
            return np.zeros(0, dtype=np.float32)
        values = output.numpy()
        if values.ndim == 2 and values.shape[1] == 1:
            return np.asarray(values[:, 0])
        return np.asarray(values)

    def predict_proba(self, batch: Any) -> np.ndarray | None:
        if self.classes is None:
            return None
        output = self.scores(batch)
        if output is None:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        with predicting("pytorch"):
            proba = probabilities(self._torch, output, self.outputs, len(self.classes))
        return np.asarray(proba.numpy())

    def argmax_classes(self) -> np.ndarray | None:
        """``predict`` is the argmax of ``predict_proba`` by construction."""
        return None if self.classes is None else np.asarray(self.classes)

    def close(self) -> None:
        """Drop the module: its weights are freed when nothing else holds them."""
        self.module = None
        self.program = None


def feature_matrix(batch: Any, n_features: int | None = None) -> np.ndarray:
    """A validated batch as a contiguous float32 ``(rows, features)`` matrix."""
    if isinstance(batch, pd.DataFrame):
        text = [
            str(c)
            for c in batch.columns
            if not pd.api.types.is_numeric_dtype(batch[c])
            and not pd.api.types.is_bool_dtype(batch[c])
        ]
        if text:
            raise FlavorError(
                f"the pytorch model takes numbers; the columns {', '.join(text)} are not",
                hint="encode them as numbers before registering the model (or inside it)",
            )
        array = batch.to_numpy(dtype=np.float32)
    else:
        array = np.asarray(batch)
        if array.dtype.kind not in "biuf":
            raise FlavorError(
                f"the pytorch model takes numbers, not an array of {array.dtype}",
                hint="pass a numeric 2-D array or DataFrame",
            )
        array = array.astype(np.float32, copy=False)
    if array.ndim != 2:
        raise FlavorError(
            f"the pytorch model takes a 2-D batch (rows, features), not shape {array.shape}",
            hint="reshape one row to (1, n_features)",
        )
    if n_features is not None and array.shape[1] != n_features:
        raise FlavorError(
            f"the pytorch model takes {n_features} features; the batch has {array.shape[1]}",
            hint="pass the columns of the model's signature, in its order",
        )
    array = np.ascontiguousarray(array)
    # torch.from_numpy shares memory and warns about read-only arrays (zero-copy Arrow
    # columns, broadcast views): a copy is cheaper than a warning per call
    return array if array.flags.writeable else array.copy()


def probabilities(torch: Any, output: Any, outputs: Outputs | None, n_classes: int) -> Any:
    """Class probabilities (rows x classes) from a classifier's output tensor."""
    if output.ndim == 1:
        output = output.reshape(-1, 1)
    width = output.shape[1]
    if width == 1 and n_classes == 2:
        positive = torch.sigmoid(output) if outputs == "logits" else output
        return torch.cat([1.0 - positive, positive], dim=1)
    if width != n_classes:
        raise FlavorError(
            f"the pytorch model gives {width} scores per row for {n_classes} classes",
            hint="give one class per output column (or one column for two classes)",
        )
    return torch.softmax(output, dim=1) if outputs == "logits" else output


class PytorchFlavor:
    """``torch.nn.Module``, ``torch.jit.ScriptModule``, ``torch.export.ExportedProgram``."""

    name: ClassVar[str] = "pytorch"
    extra: ClassVar[str | None] = "torch"

    def handles(self, obj: Any) -> bool:
        if isinstance(obj, TorchModel):
            return _is_torch_model(obj.model)
        return _is_torch_model(obj)

    def with_example(self, obj: Any, inputs: Any) -> Any:
        """``obj`` with example rows of the registration sample, to export or trace it by."""
        spec = obj if isinstance(obj, TorchModel) else TorchModel(obj)
        if spec.example is not None:
            return spec
        return dataclasses.replace(spec, example=_head(inputs))

    def save(
        self, obj: Any, directory: Path, *, serialization: str | None = None
    ) -> dict[str, Any]:
        torch = import_torch()
        if not self.handles(obj):
            raise FlavorError(
                f"the pytorch flavor saves torch.nn.Module, ScriptModule, ExportedProgram or "
                f"TorchModel, not {type(obj).__name__}"
            )
        spec = obj if isinstance(obj, TorchModel) else TorchModel(obj)
        if serialization is not None and serialization not in FORMATS:
            raise unknown_serialization(self.name, serialization, FORMATS)
        example = None if spec.example is None else _example(torch, spec.example)
        fmt = serialization or spec.format or _default_format(spec.model, example)
        classes = None if spec.classes is None else plain_list(spec.classes)
        with torch_quiet():
            artifact, how = _compile(torch, spec.model, fmt, example)
            task = _check_outputs(torch, artifact, fmt, spec, classes, example)
            path = Path(directory) / _FILES[fmt]
            with translate(FlavorError, f"cannot save the PyTorch model as {fmt}"):
                if fmt == "export":
                    torch.export.save(artifact, str(path))
                else:
                    torch.jit.save(artifact, str(path))
        return {
            "serialization": fmt,
            "file": path.name,
            "compiled": how,
            "classes": classes,
            "outputs": spec.outputs,
            "task": task,
            "n_features": None if example is None else int(example.shape[1]),
            "batch_size": spec.batch_size,
            "num_threads": spec.num_threads,
            "torch_version": str(torch.__version__),
        }

    def load(self, directory: Path, options: dict[str, Any], *, trusted: bool) -> Predictor:
        torch = import_torch()
        fmt = options.get("serialization")
        if fmt not in FORMATS:
            raise ArtifactError(f"unknown PyTorch serialization {fmt!r} in the load options")
        path = artifact_file(directory, options, _FILES[str(fmt)])
        program = None
        with torch_quiet(), translate(ArtifactError, f"cannot load {path.name} with torch"):
            if fmt == "export":
                program = torch.export.load(str(path))
                module = program.module()
            else:
                module = torch.jit.load(str(path), map_location="cpu")
                module.eval()
        threads = options.get("num_threads", 1)
        if threads is not None and int(threads) != torch.get_num_threads():
            torch.set_num_threads(int(threads))
        predictor = TorchPredictor(
            module,
            program=program,
            classes=options.get("classes"),
            outputs=options.get("outputs"),
            batch_size=int(options.get("batch_size") or DEFAULT_BATCH_SIZE),
            n_features=options.get("n_features"),
            task=options.get("task"),
        )
        _warm_up(predictor)
        return predictor


def _is_torch_model(obj: Any) -> bool:
    # class metadata only: deciding must not import torch
    return class_in_mro(obj, "torch", ("Module", "ExportedProgram"))


def _kind(obj: Any) -> str:
    if class_in_mro(obj, "torch", ("ExportedProgram",)):
        return "program"
    if class_in_mro(obj, "torch", ("ScriptModule",)):
        return "script"
    return "module"


def _default_format(model: Any, example: Any) -> str:
    kind = _kind(model)
    if kind == "program":
        return "export"
    if kind == "script":
        return "torchscript"
    return "export" if example is not None else "torchscript"


def _head(inputs: Any) -> Any:
    return (
        inputs.head(_EXAMPLE_ROWS) if isinstance(inputs, pd.DataFrame) else inputs[:_EXAMPLE_ROWS]
    )


def _example(torch: Any, rows: Any) -> Any:
    """Example rows as a float32 tensor of at least two rows (one would fix the batch at 1)."""
    array = feature_matrix(rows)
    if len(array) == 0:
        raise ConfigurationError(
            "the example input has no rows", hint="pass a few rows of the training input"
        )
    if len(array) == 1:
        array = np.repeat(array, 2, axis=0)
    return torch.from_numpy(np.ascontiguousarray(array[:_EXAMPLE_ROWS]))


@contextlib.contextmanager
def _evaluating(module: Any) -> Iterator[None]:
    """The live module in eval mode while it is compiled, put back as it was after."""
    training = bool(getattr(module, "training", False))
    module.eval()
    try:
        yield
    finally:
        module.train(training)


def _compile(torch: Any, model: Any, fmt: str, example: Any) -> tuple[Any, str]:
    """The ScriptModule or ExportedProgram to save, and how it was made."""
    kind = _kind(model)
    if fmt == "export":
        if kind == "program":
            return model, "given"
        if kind == "script":
            raise FlavorError(
                "a TorchScript module cannot be saved as a torch.export program",
                hint="save it with serialization='torchscript', or export the original module",
            )
        if example is None:
            raise FlavorError(
                "exporting a module with torch.export needs example input",
                hint="register it with a sample, or wrap it: TorchModel(module, example=X[:8])",
            )
        batch = torch.export.Dim("batch")
        with _evaluating(model), translate(FlavorError, "torch.export could not export the module"):
            return torch.export.export(model, (example,), dynamic_shapes=({0: batch},)), "export"
    if kind == "script":
        return model, "given"
    if kind == "program":
        raise FlavorError(
            "a torch.export program cannot be saved as TorchScript",
            hint="save it with serialization='export' (the default for programs)",
        )
    with _evaluating(model):
        try:
            return torch.jit.script(model), "script"
        except Exception as exc:  # TorchScript rejects much of Python, each way differently
            if example is None:
                raise FlavorError(
                    f"torch.jit.script could not compile the module: {type(exc).__name__}: {exc}",
                    hint="give example input (a sample at registration) to export or trace it",
                ) from exc
            log.info("torch.jit.script failed (%s); tracing the module on the example", exc)
        with translate(FlavorError, "torch.jit.trace could not trace the module"):
            return torch.jit.trace(model, (example,)), "trace"


def _check_outputs(
    torch: Any, artifact: Any, fmt: str, spec: TorchModel, classes: list[Any] | None, example: Any
) -> Task:
    """Run the compiled model on the example: its output must fit what was declared."""
    if example is None:
        return "classification" if classes is not None else "regression"
    module = artifact.module() if fmt == "export" else artifact
    probe = TorchPredictor(module, program=artifact if fmt == "export" else None)
    output = probe.scores(example.numpy())
    if classes is None:
        wide = output.ndim == 2 and output.shape[1] > 1
        return "other" if wide or output.ndim > 2 else "regression"
    proba = probabilities(torch, output, spec.outputs, len(classes))
    if spec.outputs == "probabilities":
        values = proba.numpy()
        sums = values.sum(axis=1)
        if values.min() < 0 or values.max() > 1 or np.abs(sums - 1).max() > _PROBABILITY_SLACK:
            raise FlavorError(
                "outputs='probabilities', but the model's outputs on the example are not "
                f"probabilities (values {values.min():.3g}..{values.max():.3g}, row sums "
                f"{sums.min():.3g}..{sums.max():.3g})",
                hint="use outputs='logits' if the last layer has no softmax or sigmoid",
            )
    return "classification"


def _fixed_batch(program: Any) -> int | None:
    """The batch size a program's input was exported with, if it is not dynamic."""
    if program is None:
        return None
    inputs = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in inputs:
            shape = getattr(node.meta.get("val"), "shape", None)
            if shape is not None and len(shape) >= 1 and isinstance(shape[0], int):
                return int(shape[0])
            return None
    return None


def _warm_up(predictor: TorchPredictor) -> None:
    """One forward pass on a zero row, so the first request does not pay PyTorch's first run."""
    if predictor.n_features is None:
        return
    try:
        predictor.scores(np.zeros((1, predictor.n_features), dtype=np.float32))
    except Exception as exc:  # a model may refuse zeros; real rows are another matter
        log.info("the PyTorch warm-up run failed (%s); the first request pays the first run", exc)


PYTORCH = PytorchFlavor()
