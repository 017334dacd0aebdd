"""Run an exported model on JSON lines, with the validation rules of the modelport server.

    python predict.py ROWS.jsonl      (or - to read standard input)

Each line of ROWS is one JSON object, feature name -> value. Each answer is one JSON
line: ``{"prediction": ..., "probabilities": {class: p}}`` (probabilities for
classifiers), or ``{"line": N, "error": ..., "problems": [...]}`` for a line that is
refused, naming every bad field as the server would. One bad line never stops the
others; the exit status is 1 when any line was refused, 2 when the bundle cannot run.

This file is the ``predict.py`` of a bundle written by ``modelport export REF --format
edge OUT``; the bundle's ``signature.json`` holds the rules and ``manifest.json`` the
sha256 of every file, checked before the model is loaded. It needs only Python 3.9+,
NumPy and ONNX Runtime: no modelport, no scikit-learn, no network.

Why the rules are rewritten here rather than imported: the device has no modelport. The
tests of modelport run this file against the server's validation on the same rows.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

#: the bundle layout this runner reads
FORMAT_VERSION = 1
#: valid rows scored per ONNX Runtime call
BATCH_ROWS = 512
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}
_ABSENT = object()
_LABEL_TYPES = ("tensor(int64)", "tensor(int32)", "tensor(string)")
_NUMPY_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.str_,
}


class BundleError(Exception):
    """The bundle itself cannot run (a file missing or changed, a graph it cannot feed)."""


class Problem:
    """One bad field of one line: which field, what kind of problem, what to send instead."""

    def __init__(self, field: str, kind: str, detail: str) -> None:
        self.field = field
        self.kind = kind  # unknown | missing | type | category | null | shape
        self.detail = detail

    def describe(self) -> str:
        return f"'{self.field}': {self.detail}"

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "kind": self.kind, "detail": self.detail}


class Feature:
    """One input feature and the server's rule for its values."""

    def __init__(self, spec: dict[str, Any], allow_unknown: bool) -> None:
        self.name: str = spec["name"]
        self.kind: str = spec["kind"]
        self.dtype: str = spec["dtype"]
        self.nullable: bool = bool(spec["nullable"])
        self.categories: list[Any] | None = spec.get("categories")
        self.tolerant = allow_unknown or spec.get("unknown_categories") == "accept"
        self._known = set(self.categories or [])

    def describe(self) -> str:
        if self.kind == "category" and self.categories is not None:
            shown = ", ".join(repr(c) for c in self.categories[:8])
            more = ", ..." if len(self.categories) > 8 else ""
            others = " (or another: the model accepts new ones)" if self.tolerant else ""
            return f"one of {shown}{more}{others}" if shown else "a category"
        names = {
            "float": "a number",
            "integer": "a whole number",
            "boolean": "true or false",
            "string": "a string",
            "category": "a category",
        }
        return names.get(self.kind, "a value")

    def coerce(self, value: Any) -> tuple[Any, Problem | None]:
        """The value as the model takes it, or the problem with it."""
        if value is _ABSENT:
            if self.nullable:
                return None, None
            return None, Problem(self.name, "missing", f"is required: {self.describe()}")
        if isinstance(value, (list, dict)):
            return None, Problem(
                self.name,
                "type",
                f"expected a single value ({self.describe()}), not a list or object",
            )
        if self.kind in ("float", "integer"):
            return self._number(value)
        if _is_null(value):
            if not self.nullable:
                return None, self._null()
            return (math.nan if self.dtype == "category" else None), None
        if self.kind == "category":
            if value not in self._known and not self.tolerant:
                return None, Problem(
                    self.name,
                    "category",
                    f"unknown category {str(value)!r}; expected {self.describe()}",
                )
            return value, None
        if self.kind == "boolean":
            if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
                return bool(value), None
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE, None
            return None, Problem(self.name, "type", "expected true or false")
        if self.kind == "string":
            if not isinstance(value, str):
                return None, Problem(self.name, "type", "expected a string")
            return value, None
        return None, Problem(self.name, "type", f"this runner cannot read a {self.kind}")

    def _number(self, value: Any) -> tuple[Any, Problem | None]:
        if isinstance(value, bool):
            got = f"a boolean ({str(value).lower()})"
            return None, Problem(self.name, "type", f"expected {self.describe()}, not {got}")
        if isinstance(value, str):
            more = "..." if len(value) > 40 else ""
            got = f"text ({value[:40]!r}{more})"
            return None, Problem(self.name, "type", f"expected {self.describe()}, not {got}")
        if value is None:
            number = math.nan
        elif isinstance(value, (int, float)):
            try:
                number = float(value)
            except OverflowError:  # an integer beyond any float
                return None, Problem(self.name, "type", f"expected {self.describe()}")
        else:
            return None, Problem(self.name, "type", f"expected {self.describe()}")
        if math.isinf(number):
            return None, Problem(
                self.name, "type", f"must be finite (got infinity): {self.describe()}"
            )
        if math.isnan(number):
            return (None, self._null()) if not self.nullable else (number, None)
        if self.kind == "integer" and number % 1 != 0:
            return None, Problem(self.name, "type", "expected a whole number")
        return number, None

    def _null(self) -> Problem:
        return Problem(
            self.name,
            "null",
            "must not be null (the model was trained without missing values here): "
            + self.describe(),
        )

    def column(self, values: list[Any]) -> np.ndarray:
        """The values of one batch as the server hands them to the ONNX flavor."""
        if self.kind in ("float", "integer"):
            return np.asarray([math.nan if v is None else v for v in values], dtype=np.float64)
        if self.kind == "boolean" and not any(v is None for v in values):
            return np.asarray(values, dtype=bool)
        if self.dtype == "category":  # a pandas Categorical there: new values become NaN
            values = [v if v in self._known else math.nan for v in values]
        column = np.empty(len(values), dtype=object)
        column[:] = values
        return column


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


class Rules:
    """The signature: features in order, and how a line becomes a row of them."""

    def __init__(self, document: dict[str, Any]) -> None:
        allow = bool(document.get("allow_unknown_categories", False))
        self.features = [Feature(spec, allow) for spec in document["features"]]
        self.names = [f.name for f in self.features]
        self._index = {f.name: f for f in self.features}

    def listing(self) -> str:
        return ", ".join(self.names[:12]) + (", ..." if len(self.names) > 12 else "")

    def check(self, record: Any) -> tuple[dict[str, Any] | None, list[Problem]]:
        """One line's record as model-ready values, or every problem with it."""
        if isinstance(record, list):  # a row of values in signature order, as the server takes
            if len(record) != len(self.names):
                detail = f"rows must have {len(self.names)} values in the order {self.listing()}"
                return None, [Problem("*", "shape", detail)]
            record = dict(zip(self.names, record))  # noqa: B905 (Python 3.9 has no strict)
        if not isinstance(record, dict):
            detail = "expected a JSON object of feature name -> value"
            return None, [Problem("*", "shape", detail)]
        problems = [
            Problem(str(k), "unknown", self._unknown(str(k)))
            for k in record
            if k not in self._index
        ]
        row: dict[str, Any] = {}
        for feature in self.features:
            value, problem = feature.coerce(record.get(feature.name, _ABSENT))
            if problem is not None:
                problems.append(problem)
            else:
                row[feature.name] = value
        return (None if problems else row), problems

    def _unknown(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names, n=1)
        if close:
            return f"unknown feature; did you mean '{close[0]}'?"
        return f"unknown feature; expected one of: {', '.join(self.names[:12])}"


class EdgeModel:
    """The bundle's graph in ONNX Runtime, fed and read like the server's ONNX flavor."""

    def __init__(self, bundle: Path, threads: int = 1) -> None:
        manifest = _read_json(bundle / "manifest.json")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(
                f"this runner reads bundle format {FORMAT_VERSION}, the bundle says "
                f"{manifest.get('format_version')!r}; export the model again"
            )
        for name in ("model.onnx", "signature.json"):
            _verify(bundle / name, manifest)
        document = _read_json(bundle / "signature.json")
        self.rules = Rules(document)
        outputs = document.get("outputs") or {}
        self.classes: list[Any] | None = outputs.get("classes")
        try:
            import onnxruntime
        except ImportError as exc:
            raise BundleError(f"{exc}; install it with: pip install numpy onnxruntime") from exc
        try:
            settings = onnxruntime.SessionOptions()
            # the server's ONNX flavor settings: with one thread a row gets the same answer
            # in any batch (a forest's float32 sums are otherwise split across threads in
            # an order that depends on the batch size)
            settings.intra_op_num_threads = threads
            settings.inter_op_num_threads = 1
            settings.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            # errors only: some converters declare a label shape of [1], and ONNX Runtime
            # would warn about it on every batch, burying this runner's own messages
            settings.log_severity_level = 3
            self.session = onnxruntime.InferenceSession(
                str(bundle / "model.onnx"),
                sess_options=settings,
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own, untyped, errors
            raise BundleError(f"ONNX Runtime cannot load model.onnx: {exc}") from exc
        self.inputs = self.session.get_inputs()
        for node in self.inputs:
            if node.type not in _NUMPY_TYPES:
                raise BundleError(f"the graph input {node.name!r} has the type {node.type}")
            if len(self.inputs) > 1 and node.name not in self.rules.names:
                raise BundleError(f"the graph input {node.name!r} is not a feature")
        types = [o.type for o in self.session.get_outputs()]
        self.classifier = len(types) >= 2 and types[0] in _LABEL_TYPES and _is_probability(types[1])
        shape = self.session.get_outputs()[0].shape
        one_column = len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)
        self.regressor = (
            not self.classifier
            and len(types) == 1
            and types[0] in ("tensor(float)", "tensor(double)")
            and one_column
        )
        self._labels = {str(c): c for c in self.classes or []}

    def predict(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One answer per valid row (a row whose output is not finite gets an error)."""
        results = self.session.run(None, self._feed(rows))
        first = np.asarray(results[0])
        if (self.classifier or self.regressor) and first.ndim == 2 and first.shape[1] == 1:
            first = first[:, 0]
        if not self.classifier:
            return [self._value(v) for v in first]
        proba = results[1]
        classes = self.classes
        if isinstance(proba, list):  # ZipMap: one {class: probability} dict per row
            if classes is None:
                classes = list(proba[0]) if proba else []
            proba = [[row[k] for k in classes] for row in proba]
        matrix = np.asarray(proba, dtype=np.float64)
        names = [str(c) for c in classes] if classes is not None else None
        answers = []
        for label, ps in zip(first, matrix):  # noqa: B905 (Python 3.9 has no strict)
            if not np.isfinite(ps).all():
                answers.append(_non_finite("class probabilities"))
                continue
            keys = names or [str(i) for i in range(len(ps))]
            plain = label.item() if isinstance(label, np.generic) else label
            answers.append(
                {
                    "prediction": self._labels.get(str(plain), plain),
                    "probabilities": {k: float(p) for k, p in zip(keys, ps)},  # noqa: B905
                }
            )
        return answers

    def _value(self, value: Any) -> dict[str, Any]:
        array = np.asarray(value)
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            return _non_finite("prediction")
        return {"prediction": array.tolist()}

    def _feed(self, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        columns = {f.name: f.column([r[f.name] for r in rows]) for f in self.rules.features}
        if len(self.inputs) == 1:
            node = self.inputs[0]
            matrix = np.column_stack([columns[n] for n in self.rules.names])
            return {node.name: _cast(matrix, node)}
        return {node.name: _cast(columns[node.name], node) for node in self.inputs}


def _cast(values: np.ndarray, node: Any) -> np.ndarray:
    if values.ndim == 1 and len(node.shape) != 1:
        values = values.reshape(-1, 1)
    return values.astype(_NUMPY_TYPES[node.type])


def _is_probability(type_name: str) -> bool:
    return type_name in ("tensor(float)", "tensor(double)") or type_name.startswith("seq(map(")


def _non_finite(output: str) -> dict[str, Any]:
    return {"error": f"the model's {output} for this row is not a finite number"}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(document, dict):
        raise BundleError(f"{path.name} is not a JSON object")
    return document


def _verify(path: Path, manifest: dict[str, Any]) -> None:
    expected = (manifest.get("files") or {}).get(path.name, {}).get("sha256")
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise BundleError(f"cannot read {path.name}: {exc}") from exc
    if digest != expected:
        raise BundleError(
            f"{path.name} does not match manifest.json (sha256 {digest}, expected {expected}): "
            "the bundle was changed; export the model again"
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send null for a missing value")


def score_lines(model: EdgeModel, lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """One answer per non-blank line, in order; refused lines carry ``line`` and ``error``.

    Lines may be bytes (a file or pipe read as such), decoded one by one so that a line
    that is not UTF-8 is refused on its own instead of ending the run.
    """
    pending: list[tuple[int, str | bytes]] = []
    for number, text in enumerate(lines, start=1):
        if text.strip():
            pending.append((number, text))
        if len(pending) >= BATCH_ROWS:
            yield from _score_chunk(model, pending)
            pending = []
    if pending:
        yield from _score_chunk(model, pending)


def _score_chunk(model: EdgeModel, chunk: list[tuple[int, str | bytes]]) -> list[dict[str, Any]]:
    answers: list[dict[str, Any] | None] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    for position, (number, raw) in enumerate(chunk):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if number == 1:
                text = text.lstrip("\ufeff")  # a byte order mark some editors write
            record = json.loads(text, parse_constant=_reject_constant)
        except UnicodeDecodeError as exc:
            problem = Problem("*", "shape", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            answers.append(_refusal(number, [problem]))
            continue
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            problem = Problem("*", "shape", f"not valid JSON ({str(exc) or type(exc).__name__})")
            answers.append(_refusal(number, [problem]))
            continue
        row, problems = model.rules.check(record)
        if row is None:
            answers.append(_refusal(number, problems, model.rules.listing()))
        else:
            answers.append(None)
            valid.append((position, row))
    predicted = _predict_each(model, [row for _, row in valid])
    for (position, _), answer in zip(valid, predicted):  # noqa: B905 (3.9 has no strict)
        if "error" in answer:
            answer = {"line": chunk[position][0], **answer}
        answers[position] = answer
    return [a for a in answers if a is not None]


def _predict_each(model: EdgeModel, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch's answers; if ONNX Runtime refuses the batch, each row on its own."""
    if not rows:
        return []
    try:
        return model.predict(rows)
    except Exception as exc:  # onnxruntime raises its own, untyped, errors
        if len(rows) == 1:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail = lines[0][:300] if lines else type(exc).__name__
            return [{"error": f"the model failed on this row: {detail}"}]
    return [_predict_each(model, [row])[0] for row in rows]


def _refusal(number: int, problems: list[Problem], listing: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "line": number,
        "error": f"line {number}: invalid input: " + "; ".join(p.describe() for p in problems),
        "problems": [p.to_dict() for p in problems],
    }
    if listing is not None:
        answer["hint"] = f"expected features: {listing}"
    return answer


def main(
    argv: list[str] | None = None,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    bundle: Path | None = None,
) -> int:
    """Score ROWS; 0 when every line was answered, 1 when some were refused, 2 on failure."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog="predict.py",
        description="Predict with the exported model: one JSON object (feature name -> value) "
        "per line in, one JSON answer per line out.",
        epilog="example: python predict.py rows.jsonl > predictions.jsonl",
    )
    parser.add_argument("rows", help="a JSON-lines file, or - for standard input")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="ONNX Runtime threads (default 1: the server's answers exactly; 0 = all cores, "
        "faster on large files, probabilities may then differ in the last float32 digit)",
    )
    args = parser.parse_args(argv)
    try:
        model = EdgeModel(bundle or Path(__file__).resolve().parent, threads=max(0, args.threads))
    except BundleError as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    source: Any
    try:
        # bytes, decoded line by line: one line that is not UTF-8 must not end the run
        piped = getattr(stdin, "buffer", stdin)
        source = piped if args.rows == "-" else open(args.rows, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"error: cannot read {args.rows}: {exc.strerror or exc}", file=stderr)
        return 2
    refused = 0
    try:
        for answer in score_lines(model, source):
            refused += "error" in answer
            stdout.write(json.dumps(answer, ensure_ascii=False, allow_nan=False) + "\n")
        stdout.flush()
    except BrokenPipeError:  # the reader stopped early (`| head`): not a fault of this run
        if stdout is sys.stdout:  # so that Python's own flush at exit does not complain
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1 if refused else 0
    finally:
        if args.rows != "-":
            source.close()
    if refused:
        print(f"{refused} line(s) refused; see their 'error'", file=stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
