"""Open Inference Protocol messages <-> the plain data the prediction pipeline validates.

The V2 rules are those of :mod:`modelport.serving.protocols.v2`, called, not copied: the
same datatypes, shape checks (at most 2 dimensions, no more values than the message has
bytes), raw little-endian contents, length-prefixed BYTES, input forms (one ``[rows,
features]`` tensor or one tensor per feature) and output names. What is gRPC's own:

- data comes either in each input's typed ``contents`` (the field of its datatype, e.g.
  ``fp32_contents`` for FP32) or in ``raw_input_contents``, one entry per input in input
  order; mixing the two, or a count of raw entries that is not the number of inputs, is
  refused;
- outputs always go back as ``raw_output_contents``, as Triton answers, which both
  tritonclient and the kserve SDK read;
- the prediction ids are the response parameter ``prediction_ids``, comma-separated (a
  parameter holds one scalar).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

from modelport.errors import FieldProblem, InvalidArgument, ValidationError
from modelport.schema import Signature
from modelport.serving.grpc import grpc_predict_v2_pb2 as pb
from modelport.serving.protocols import v2
from modelport.serving.protocols.common import shown

#: the ``InferTensorContents`` field of each datatype (FP16 has none: raw contents only)
CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_FIELDS = frozenset(CONTENTS.values())


def parse_request(data: bytes) -> pb.ModelInferRequest:
    """The request message; bytes that are no ``ModelInferRequest`` are the client's fault."""
    try:
        request: pb.ModelInferRequest = pb.ModelInferRequest.FromString(data)
    except DecodeError as exc:
        raise InvalidArgument(
            f"the message is not a valid ModelInferRequest: {exc}",
            hint="send an inference.ModelInferRequest of the KServe V2 protocol",
        ) from exc
    return request


def decode_inputs(
    request: pb.ModelInferRequest, size: int, signature: Signature | None, has_proba: bool
) -> v2.V2Request:
    """The model input of ``request`` (``size`` bytes on the wire) and the outputs wanted."""
    if not request.inputs:
        raise InvalidArgument(
            "the request has no inputs",
            hint="add one input per feature, or one [rows, features] input",
        )
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidArgument(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs",
            hint="give every input's data in raw_input_contents, in input order, or none",
        )
    tensors: dict[str, np.ndarray] = {}
    for i, tensor in enumerate(request.inputs):
        name = tensor.name
        shape = list(tensor.shape)
        count = v2.tensor_size(name, shape, tensor.datatype, size)
        if raw:
            if tensor.HasField("contents"):
                raise InvalidArgument(
                    f"input {shown(name)} has both contents and raw_input_contents",
                    hint="give each input's data once",
                )
            values = v2.from_binary(name, memoryview(raw[i]), tensor.datatype, count)
        else:
            values = _from_contents(name, tensor.contents, tensor.datatype)
        if values.size != count:
            raise _problem(name, "shape", f"shape {shape} needs {count} values, got {values.size}")
        v2.add_input(tensors, name, values.reshape(shape))
    outputs = [{"name": out.name} for out in request.outputs]
    return v2.V2Request(
        data=v2.model_input(tensors, signature),
        id=request.id or None,
        outputs=v2.requested_outputs(outputs, {}, has_proba),
    )


def _from_contents(name: str, contents: pb.InferTensorContents, datatype: str) -> np.ndarray:
    field = CONTENTS.get(datatype)
    if field is None:
        raise _problem(name, "type", f"{datatype} data can only be sent in raw_input_contents")
    for other in _FIELDS - {field}:
        if len(getattr(contents, other)):
            raise _problem(
                name, "type", f"{datatype} data belongs in contents.{field}, not in {other}"
            )
    values: Any = getattr(contents, field)
    if datatype == "BYTES":
        return np.array([v.decode("utf-8", "replace") for v in values], dtype=object)
    try:
        return np.array(values, dtype=v2.DTYPES[datatype])
    except (ValueError, TypeError, OverflowError) as exc:
        raise _problem(name, "type", f"data does not fit datatype {datatype}: {exc}") from exc


def field_values(request: pb.ModelInferRequest) -> dict[str, list[Any]]:
    """Each input's typed contents as ``{name: values}``, for a field sticky key.

    Raw contents are not decoded here (the tensor is not yet checked against the
    signature): such a request is assigned at random, as a binary HTTP request is.
    """
    found: dict[str, list[Any]] = {}
    for tensor in request.inputs:
        field = CONTENTS.get(tensor.datatype)
        if field is not None:
            values = list(getattr(tensor.contents, field)[:1])
            if values and isinstance(values[0], bytes):
                values = [values[0].decode("utf-8", "replace")]
            found[tensor.name] = values
    return found


def encode_response(
    model: str,
    version: int,
    request: v2.V2Request,
    results: Mapping[str, np.ndarray],
    ids: list[str] | None,
) -> bytes:
    """The serialized ``ModelInferResponse``: one raw entry per output, in the asked order."""
    response = pb.ModelInferResponse(model_name=model, model_version=str(version))
    if request.id is not None:
        response.id = request.id
    for name in request.outputs:
        array = results[name]
        response.outputs.add(name=name, datatype=v2.datatype_of(array), shape=array.shape)
        response.raw_output_contents.append(v2.to_binary(array))
    if ids is not None:  # for POST /api/feedback
        response.parameters["prediction_ids"].string_param = ",".join(ids)
    return serialized(response)


def serialized(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


def _problem(field_name: str, kind: str, detail: str) -> ValidationError:
    return ValidationError([FieldProblem(field_name, kind, detail)])
