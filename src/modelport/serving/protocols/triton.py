"""Triton's HTTP extensions, as JSON: model configuration and the repository index.

Pure functions from what the server knows to the shapes ``tritonclient`` reads. The model
configuration is derived from the V2 metadata (:func:`.v2.model_metadata`), so the two can
never disagree on names, datatypes or shapes: a metadata shape ``[-1]`` (one value per row)
becomes ``dims: [1]`` with ``reshape: {shape: []}``, Triton's way of saying the batch
dimension is the only one, and ``[-1, k]`` becomes ``dims: [k]``.

``max_batch_size`` is what Triton means by it: the most rows one request may carry (the
server's ``--max-rows``). The adaptive batcher that merges concurrent requests is Triton's
``dynamic_batching``: its wait is ``max_queue_delay_microseconds``, its bounded queue
``default_queue_policy.max_queue_size``, and how many requests one model call takes at most
is the parameter ``max_requests_per_batch``.
"""

from __future__ import annotations

from typing import Any

import orjson

from modelport.runtime.config import BatchConfig

#: Triton's name of each Open Inference Protocol datatype (BYTES is TYPE_STRING there)
TYPES = {
    "BOOL": "TYPE_BOOL",
    "UINT8": "TYPE_UINT8",
    "UINT16": "TYPE_UINT16",
    "UINT32": "TYPE_UINT32",
    "UINT64": "TYPE_UINT64",
    "INT8": "TYPE_INT8",
    "INT16": "TYPE_INT16",
    "INT32": "TYPE_INT32",
    "INT64": "TYPE_INT64",
    "FP16": "TYPE_FP16",
    "FP32": "TYPE_FP32",
    "FP64": "TYPE_FP64",
    "BYTES": "TYPE_STRING",
}


def _dims(shape: list[int]) -> dict[str, Any]:
    """A metadata shape (batch dimension first) as Triton's ``dims`` and ``reshape``."""
    rest = shape[1:]
    if not rest:
        return {"dims": [1], "reshape": {"shape": []}}
    return {"dims": rest}


def model_config(
    metadata: dict[str, Any],
    *,
    version: int,
    flavor: str,
    classes: list[Any] | None,
    max_rows: int,
    batch: BatchConfig,
) -> dict[str, Any]:
    """``GET /v2/models/{name}/config``: the configuration of the version that answers."""
    inputs = [
        {
            "name": tensor["name"],
            "data_type": TYPES[tensor["datatype"]],
            "format": "FORMAT_NONE",
            **_dims(tensor["shape"]),
            "is_shape_tensor": False,
            "allow_ragged_batch": False,
            "optional": False,
        }
        for tensor in metadata["inputs"]
    ]
    outputs = [
        {
            "name": tensor["name"],
            "data_type": TYPES[tensor["datatype"]],
            **_dims(tensor["shape"]),
            "label_filename": "",
            "is_shape_tensor": False,
        }
        for tensor in metadata["outputs"]
    ]
    parameters = {
        "modelport_version": str(version),
        "flavor": flavor,
        "max_requests_per_batch": str(batch.max_batch_size),
    }
    if classes is not None:
        parameters["classes"] = orjson.dumps(classes, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return {
        "name": metadata["name"],
        "platform": metadata["platform"],
        "backend": "modelport",
        "version_policy": {"specific": {"versions": [int(v) for v in metadata["versions"]]}},
        "max_batch_size": max_rows,
        "input": inputs,
        "output": outputs,
        "batch_input": [],
        "batch_output": [],
        "dynamic_batching": {
            "preferred_batch_size": [],
            "max_queue_delay_microseconds": int(batch.max_wait_ms * 1000),
            "preserve_ordering": False,
            "priority_levels": 0,
            "default_priority_level": 0,
            "default_queue_policy": {
                "timeout_action": "REJECT",
                "default_timeout_microseconds": 0,
                "allow_timeout_override": False,
                "max_queue_size": batch.max_queue,
            },
        },
        "instance_group": [
            # one worker thread per served version runs the model
            {"name": metadata["name"], "kind": "KIND_CPU", "count": 1, "gpus": []}
        ],
        "parameters": {key: {"string_value": value} for key, value in parameters.items()},
    }


def index_entry(name: str, version: int | None, ready: bool, reason: str = "") -> dict[str, str]:
    """One entry of ``POST /v2/repository/index``: READY when served, else UNAVAILABLE."""
    entry = {"name": name, "version": "" if version is None else str(version)}
    entry["state"] = "READY" if ready else "UNAVAILABLE"
    entry["reason"] = reason
    return entry
