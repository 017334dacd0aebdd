"""Open Inference Protocol (KServe V2) over REST, with Triton's binary tensor extension.

Inputs are either one tensor per feature (named like the feature, shape ``[n]`` or
``[n, 1]``) or a single 2-D tensor ``[n, features]`` in signature order. Tensor data may
be JSON (flat or nested) or raw bytes after the JSON header (``Inference-Header-Content-
Length`` and ``parameters.binary_data_size``, as ``tritonclient`` sends by default).

Outputs are ``predict`` (shape ``[n]``) and, for classifiers, ``predict_proba``
(``[n, classes]``). Unless ``outputs`` names some, both are returned. Binary output is used
when asked for per output (``parameters.binary_data``) or for all (``binary_data_output``).

Data must match its datatype (``BOOL`` is ``true``/``false`` only, numbers are not strings,
and a ``BOOL`` tensor is not a number for a numeric feature); the product of ``shape`` must
equal the number of values; each input name may appear once; a request with no rows is
refused with 422.

Why one module of this size: the JSON and binary tensor forms share their checks of
shapes, datatypes and lengths, which must refuse the same mistakes in both.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from modelport.errors import FieldProblem, InvalidArgument, ValidationError
from modelport.schema import Signature
from modelport.serving.protocols.common import json_kind, load_json, shown

DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(bool),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
OUTPUTS = ("predict", "predict_proba")


@dataclass(slots=True)
class V2Request:
    data: Any
    id: str | None = None
    #: requested output name -> binary encoding wanted
    outputs: dict[str, bool] = field(default_factory=dict)


def datatype_of(array: np.ndarray) -> str:
    """The protocol datatype of a NumPy result."""
    if array.dtype.kind in "OUS":
        return "BYTES"
    for name, dtype in DTYPES.items():
        if dtype == array.dtype and name != "BYTES":
            return name
    return "FP64"


def feature_datatype(kind: str, dtype: str) -> str:
    """The datatype a client should send for a signature feature."""
    if kind == "float":
        return "FP32" if dtype == "float32" else "FP64"
    if kind == "integer":
        return "INT64"
    if kind == "boolean":
        return "BOOL"
    return "BYTES"


def header_length(value: str | None) -> int | None:
    """The ``Inference-Header-Content-Length`` header: absent, or a byte count."""
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise InvalidArgument(
            f"Inference-Header-Content-Length must be a byte count, got {shown(value)}",
            hint="set it to the length in bytes of the JSON header before the binary data",
        )
    return int(text)


def decode_request(
    body: bytes,
    header_length: int | None,
    signature: Signature | None,
    has_proba: bool,
    content_type: str | None = None,
) -> V2Request:
    """Request bytes -> model input for ``prepare`` and the outputs wanted."""
    if header_length is not None:
        if header_length < 0 or header_length > len(body):
            raise InvalidArgument(
                f"Inference-Header-Content-Length {header_length} exceeds the body "
                f"({len(body)} bytes)"
            )
        doc, binary = load_json(body[:header_length]), memoryview(body)[header_length:]
    else:
        doc, binary = _load_json_only(body, content_type), memoryview(b"")
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
        raise InvalidArgument(
            'the body must be an object with a non-empty "inputs" list',
            hint='send {"inputs": [{"name", "shape", "datatype", "data"}, ...]}',
        )
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for spec in doc["inputs"]:
        name, array, offset = _tensor(spec, binary, offset, len(body))
        add_input(tensors, name, array)
    if offset != len(binary):
        raise InvalidArgument(f"{len(binary) - offset} bytes of binary data belong to no input")
    params = _parameters(doc.get("parameters"), "parameters")
    return V2Request(
        data=model_input(tensors, signature),
        id=_request_id(doc.get("id")),
        outputs=requested_outputs(doc.get("outputs"), params, has_proba),
    )


def add_input(tensors: dict[str, np.ndarray], name: str, array: np.ndarray) -> None:
    """Add one decoded input; each name may appear once."""
    if name in tensors:
        raise InvalidArgument(
            f"input {shown(name)} is given twice",
            hint="send each input once, under its own name",
        )
    tensors[name] = array


def _request_id(value: Any) -> str | None:
    """The request's ``id``: a string, echoed as sent (absent or null: none).

    Any other value would come back as its Python text (``{}``, ``True``): refused instead.
    """
    if value is None or isinstance(value, str):
        return value
    raise InvalidArgument(
        f'"id" must be a string, got {json_kind(value)}', hint='send {"id": "req-1", ...}'
    )


def _load_json_only(body: bytes, content_type: str | None) -> Any:
    """A body without the binary header must be JSON; if it looks binary, say what is missing."""
    try:
        return load_json(body)
    except InvalidArgument as exc:
        binary = (content_type or "").lower().startswith("application/octet-stream")
        if not binary:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                binary = True
        if binary:
            raise InvalidArgument(
                "the body holds binary data but the Inference-Header-Content-Length header "
                "is missing",
                hint="set Inference-Header-Content-Length to the length in bytes of the JSON "
                "header that precedes the binary tensors, or send a JSON body",
            ) from exc
        raise


def _parameters(value: Any, where: str) -> dict[str, Any]:
    """A ``parameters`` object: absent or null is empty; anything but an object is refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(
            f'"{where}" must be an object, got {json_kind(value)}',
            hint='send {"parameters": {"binary_data": true}} or leave it out',
        )
    return value


def _flag(params: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise InvalidArgument(
            f'"{where}.{key}" must be true or false, got {shown(value)}', hint="send true or false"
        )
    return value


def _tensor(
    spec: Any, binary: memoryview, offset: int, body_size: int
) -> tuple[str, np.ndarray, int]:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise InvalidArgument('every input needs a "name", "shape", "datatype" and data')
    name = spec["name"]
    shape: Any = spec.get("shape")
    datatype: Any = spec.get("datatype")  # checked by tensor_size
    count = tensor_size(name, shape, datatype, body_size)
    params = _parameters(spec.get("parameters"), f"inputs[{name!r}].parameters")
    size = params.get("binary_data_size")
    if size is not None:
        if (
            not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
            or offset + size > len(binary)
        ):
            raise InvalidArgument(
                f"input {name!r}: binary_data_size {shown(size)} exceeds the body"
            )
        raw = binary[offset : offset + size]
        offset += size
        values = from_binary(name, raw, datatype, count)
    else:
        if "data" not in spec:
            raise _problem(name, "missing", "has no data")
        values = _from_json(name, spec["data"], datatype)
    if values.size != count:
        raise _problem(name, "shape", f"shape {shape} needs {count} values, got {values.size}")
    return name, values.reshape(shape), offset


def tensor_size(name: str, shape: Any, datatype: Any, body_size: int) -> int:
    """The number of values a tensor's ``shape`` needs, after checking shape and datatype.

    ``body_size`` is the request's size in bytes: every value takes at least one byte of it,
    so a larger count is refused before any data is read (a huge shape costs nothing).
    """
    # bool is an int subclass in Python: [true, 4] must not pass as the shape [1, 4]
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise _problem(
            name, "shape", f"shape must be a list of whole numbers >= 0, got {shown(shape)}"
        )
    if len(shape) > 2:  # NumPy cannot even hold more than 64; no input form uses more than 2
        raise _problem(
            name,
            "shape",
            f"shape {shape[:8]}{'...' if len(shape) > 8 else ''} has {len(shape)} dimensions; "
            "send [rows, features] or one [rows] tensor per feature",
        )
    if not isinstance(datatype, str) or datatype not in DTYPES:
        raise _problem(
            name, "type", f"unknown datatype {shown(datatype)}; use one of {list(DTYPES)}"
        )
    # exact integer product (numpy's would wrap around past 2**63 and could look small)
    count = math.prod(shape)
    if count > body_size:
        # every value takes at least one byte of the body: refuse before reading any data
        raise _problem(
            name, "shape", f"shape {shape} needs {count} values; the body cannot hold them"
        )
    return count


_NONE = type(None)
#: the JSON values each datatype takes; a boolean is not a number, nor a number a string
_JSON_TYPES: dict[str, tuple[frozenset[type], str]] = {
    "BOOL": (frozenset({bool}), "true or false"),
    "BYTES": (frozenset({str, _NONE}), "strings"),
    **{
        t: (frozenset({int}), "whole numbers")
        for t in ("UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64")
    },
    **{t: (frozenset({int, float, _NONE}), "numbers") for t in ("FP16", "FP32", "FP64")},
}


def _from_json(name: str, data: Any, datatype: str) -> np.ndarray:
    """JSON tensor data (flat or nested) -> a flat array, refusing values of another type."""
    flat: Any = data if isinstance(data, list) else [data]
    types = set(map(type, flat))
    if list in types:  # nested: flatten; a ragged nesting leaves lists behind
        flat = np.asarray(flat, dtype=object).ravel()
        types = set(map(type, flat))
    allowed, wanted = _JSON_TYPES[datatype]
    if not types <= allowed:
        odd = next(v for v in flat if type(v) not in allowed)
        got = "ragged nesting" if isinstance(odd, list) else f"{json_kind(odd)} ({shown(odd)})"
        raise _problem(name, "type", f"{datatype} data must be {wanted}, got {got}")
    if datatype == "BYTES":
        return np.array(flat, dtype=object)
    try:
        return np.asarray(flat, dtype=DTYPES[datatype])
    except (ValueError, TypeError, OverflowError) as exc:
        raise _problem(name, "type", f"data does not fit datatype {datatype}: {exc}") from exc


def from_binary(name: str, raw: memoryview, datatype: str, count: int) -> np.ndarray:
    if datatype == "BYTES":
        items: list[str] = []
        pos = 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise _problem(name, "shape", "truncated BYTES element")
            (length,) = struct.unpack_from("<I", raw, pos)
            if pos + 4 + length > len(raw):
                raise _problem(
                    name, "shape", f"a BYTES element of {length} bytes runs past the data"
                )
            items.append(bytes(raw[pos + 4 : pos + 4 + length]).decode("utf-8", "replace"))
            pos += 4 + length
        return np.array(items, dtype=object)
    dtype = DTYPES[datatype]
    if datatype == "BOOL":
        dtype = np.dtype(np.uint8)
    if len(raw) != count * dtype.itemsize:
        raise _problem(name, "shape", f"{len(raw)} bytes do not hold {count} {datatype} values")
    values = np.frombuffer(raw, dtype=dtype.newbyteorder("<"))
    return values.astype(bool) if datatype == "BOOL" else values


def model_input(tensors: dict[str, np.ndarray], signature: Signature | None) -> Any:
    """One 2-D tensor -> rows; one tensor per feature -> columns."""
    names = set(signature.names) if signature else set()
    if len(tensors) == 1:
        ((name, array),) = tensors.items()
        if name not in names or (array.ndim == 2 and array.shape[1] != 1):
            if array.ndim != 2:
                raise _problem(
                    name,
                    "shape",
                    f"a single input must be 2-D [rows, features], got shape {list(array.shape)}",
                )
            return array
    columns: dict[str, np.ndarray] = {}
    for name, array in tensors.items():
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise _problem(
                name,
                "shape",
                f"a per-feature input must have shape [n] or [n, 1], got {list(array.shape)}",
            )
        columns[name] = array
    return columns


def requested_outputs(outputs: Any, params: dict[str, Any], has_proba: bool) -> dict[str, bool]:
    available = OUTPUTS if has_proba else OUTPUTS[:1]
    binary_all = _flag(params, "binary_data_output", False, "parameters")
    if outputs is None or outputs == []:
        return dict.fromkeys(available, binary_all)
    if not isinstance(outputs, list):
        raise InvalidArgument(
            f'"outputs" must be a list of objects, got {json_kind(outputs)}',
            hint=f'send [{{"name": "predict"}}], or leave it out for all of {list(available)}',
        )
    wanted: dict[str, bool] = {}
    for out in outputs:
        name = out.get("name") if isinstance(out, dict) else None
        if not isinstance(name, str) or name not in available:
            raise InvalidArgument(
                f"unknown output {shown(name)}", hint=f"outputs: {list(available)}"
            )
        if name in wanted:
            raise InvalidArgument(f"output {name!r} is requested twice", hint="name it once")
        where = f"outputs[{name!r}].parameters"
        out_params = _parameters(out.get("parameters"), where)
        wanted[name] = _flag(out_params, "binary_data", binary_all, where)
    return wanted


def _problem(field_name: str, kind: str, detail: str) -> ValidationError:
    return ValidationError([FieldProblem(field_name, kind, detail)])


def encode_response(
    model: str,
    version: int,
    request: V2Request,
    results: dict[str, np.ndarray],
    ids: list[str] | None = None,
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header length when binary tensors follow it."""
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, binary in request.outputs.items():
        array = results[name]
        out: dict[str, Any] = {
            "name": name,
            "shape": list(array.shape),
            "datatype": datatype_of(array),
        }
        if binary:
            raw = to_binary(array)
            out["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            out["data"] = array.ravel().tolist()
        outputs.append(out)
    doc: dict[str, Any] = {"model_name": model, "model_version": str(version), "outputs": outputs}
    if request.id is not None:
        doc["id"] = request.id
    if ids is not None:  # for POST /api/feedback
        doc["parameters"] = {"prediction_ids": ids}
    header = orjson.dumps(doc)
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)


def to_binary(array: np.ndarray) -> bytes:
    if datatype_of(array) == "BYTES":
        parts = []
        for value in array.ravel():
            data = value if isinstance(value, bytes) else str(value).encode()
            parts.append(struct.pack("<I", len(data)) + data)
        return b"".join(parts)
    return np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()


def model_metadata(
    name: str, versions: list[int], platform: str, signature: Signature | None, classes: Any
) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the inputs a client should send and the outputs it gets."""
    inputs = [
        {"name": f.name, "datatype": feature_datatype(f.kind, f.dtype), "shape": [-1]}
        for f in (signature.inputs if signature else [])
    ]
    outputs = [
        {"name": "predict", "datatype": "BYTES" if _textual(classes) else "FP64", "shape": [-1]}
    ]
    if classes is not None:
        outputs[0]["datatype"] = "BYTES" if _textual(classes) else "INT64"
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]})
    return {
        "name": name,
        "versions": [str(v) for v in versions],
        "platform": platform,
        "inputs": inputs,
        "outputs": outputs,
    }


def _textual(classes: Any) -> bool:
    return bool(classes) and any(isinstance(c, str) for c in classes)
