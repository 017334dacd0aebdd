"""The OpenAPI components: the JSON Schema of every body the server reads or writes.

Each schema describes what the code accepts and answers (:mod:`.protocols.v1`,
:mod:`.protocols.v2`, :mod:`.feedback`, :mod:`.protocols.common`): never stricter (the
fuzz test sends what a schema forbids and expects a refusal), and as strict as a schema can
be without knowing the model. What only a signature decides (feature names, types,
categories), or JSON Schema cannot say (unique input names, values matching a shape), is
refused with 422 or 400 and told in prose. The decoders ignore unknown top-level keys, so
the envelopes stay open.
"""

from __future__ import annotations

from typing import Any

from modelport.serving.protocols import v2


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_SCALAR: dict[str, Any] = {"type": ["number", "string", "boolean", "null"]}

_PROBLEM = {
    "type": "object",
    "description": "One bad field: which, what kind of problem, and what to send instead.",
    "required": ["field", "kind", "detail"],
    "properties": {
        "field": {"type": "string", "description": "the feature or input, `*` for the shape"},
        "kind": {
            "type": "string",
            "description": "unknown, missing, type, category, null, shape, ...",
        },
        "detail": {"type": "string"},
        "rows": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    },
}

_ERROR = {
    "type": "object",
    "description": (
        "Every error answer. `error` is the Open Inference Protocol's message (with the hint "
        "in parentheses), `code` the stable machine-readable name. Validation errors add "
        "`problems`; refused feedback says its code in `error` and adds `message`, `hint` "
        "and the per-record details."
    ),
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "code": {
            "type": "string",
            "examples": ["invalid_argument", "invalid_input", "version_not_found"],
        },
        "message": {"type": "string"},
        "hint": {"type": "string"},
        "problems": {"type": "array", "items": ref("FieldProblem")},
    },
}

# -- KServe V1 ---------------------------------------------------------------------------

_V1_ROW = {"type": "array", "items": _SCALAR, "description": "values in signature order"}
_V1_RECORD = {
    "type": "object",
    "additionalProperties": _SCALAR,
    "description": "feature -> value",
}
_V1_ROWS = {
    "type": "array",
    "minItems": 1,
    "description": "rows or records (or the values of one flat row, for a NumPy-signature model)",
    "items": {"anyOf": [_V1_ROW, _V1_RECORD, _SCALAR]},
}
_V1_COLUMNS = {
    "type": "object",
    "minProperties": 1,
    "description": "columns: feature -> list of values (or one record: feature -> value)",
    "additionalProperties": {"anyOf": [{"type": "array", "items": _SCALAR}, _SCALAR]},
}

_V1_REQUEST = {
    "type": "object",
    "description": (
        "Exactly one of `instances` (rows or records; one object is one record) and `inputs` "
        "(TF-Serving columnar: feature -> list of values; or rows). The features are the "
        "model's signature (`GET /v2/models/{name}`); input that does not match it is refused "
        "with 422 naming every bad field."
    ),
    "properties": {
        "instances": {"anyOf": [_V1_ROWS, _V1_RECORD]},
        "inputs": {"anyOf": [_V1_ROWS, _V1_COLUMNS]},
        "parameters": {
            "type": ["object", "null"],
            "properties": {
                "probabilities": {
                    "type": "boolean",
                    "default": False,
                    "description": "also answer class probabilities (classifiers only)",
                }
            },
        },
    },
    "oneOf": [{"required": ["instances"]}, {"required": ["inputs"]}],
}

_V1_RESPONSE = {
    "type": "object",
    "required": ["predictions"],
    "properties": {
        "predictions": {
            "type": "array",
            "description": "one per row: a class label or a value (a list for multi-output)",
            "items": {"type": ["number", "string", "boolean", "null", "array"]},
        },
        "probabilities": {
            "type": "array",
            "description": "one list per row, in the order of `classes` (when asked for)",
            "items": {"type": "array", "items": {"type": "number"}},
        },
        "classes": {"type": ["array", "null"], "items": _SCALAR},
        "prediction_ids": {
            "type": "array",
            "description": "one per row when the prediction was logged: send them back with "
            "the ground truth to `POST /api/feedback`",
            "items": {"type": "string"},
        },
    },
}

_V1_STATUS = {
    "type": "object",
    "required": ["name", "ready", "version", "model_version_status"],
    "properties": {
        "name": {"type": "string"},
        "ready": {"type": "boolean"},
        "version": {"type": "string"},
        "model_version_status": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["version", "state", "status"],
                "properties": {
                    "version": {"type": "string"},
                    "state": {"type": "string", "enum": ["AVAILABLE", "LOADING"]},
                    "status": {
                        "type": "object",
                        "properties": {
                            "error_code": {"type": "string"},
                            "error_message": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

# -- Open Inference Protocol (V2) --------------------------------------------------------

_DATATYPE = {"type": "string", "enum": list(v2.DTYPES)}
_SHAPE = {
    "type": "array",
    "maxItems": 2,
    "items": {"type": "integer", "minimum": 0},
    "description": "`[rows]` or `[rows, 1]` per feature, or `[rows, features]` for one tensor",
}
_TENSOR_DATA = {
    "description": "flat or nested, in row-major order; the product of `shape` values. "
    "BOOL takes true/false, the integer types whole numbers, FP* numbers (or null), "
    "BYTES strings (or null). A single value stands for a list of one.",
    "anyOf": [{"type": "array"}, _SCALAR],
}
_PARAMETERS = {"type": ["object", "null"], "description": "other keys are ignored"}

_V2_INPUT = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string", "description": "a feature name, or any name for one 2-D tensor"},
        "shape": _SHAPE,
        "datatype": _DATATYPE,
        "data": _TENSOR_DATA,
        "parameters": {
            **_PARAMETERS,
            "properties": {
                "binary_data_size": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "bytes of this tensor after the JSON header (binary form)",
                }
            },
        },
    },
    "description": "`data` is required unless `parameters.binary_data_size` is given",
    "anyOf": [{"required": ["data"]}, {"required": ["parameters"]}],
}
_V2_REQUESTED_OUTPUT = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "enum": list(v2.OUTPUTS)},
        "parameters": {
            **_PARAMETERS,
            "properties": {"binary_data": {"type": "boolean"}},
        },
    },
}
_V2_REQUEST = {
    "type": "object",
    "description": (
        "Either one tensor per feature (named like the feature) or a single 2-D tensor "
        "`[rows, features]` in signature order. `predict_proba` exists for classifiers only. "
        "Without `outputs` (or with an empty list) every output is answered."
    ),
    "required": ["inputs"],
    "properties": {
        "id": {"type": ["string", "null"], "description": "echoed in the response"},
        "inputs": {"type": "array", "minItems": 1, "items": ref("V2RequestInput")},
        "outputs": {"type": ["array", "null"], "items": ref("V2RequestedOutput")},
        "parameters": {
            **_PARAMETERS,
            "properties": {
                "binary_data_output": {
                    "type": "boolean",
                    "description": "every output as raw bytes after the JSON header",
                }
            },
        },
    },
}
_V2_OUTPUT = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string", "enum": list(v2.OUTPUTS)},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": _DATATYPE,
        "data": {"type": "array", "description": "flat, row-major"},
        "parameters": {
            "type": "object",
            "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
        },
    },
}
_V2_RESPONSE = {
    "type": "object",
    "required": ["model_name", "model_version", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string", "description": "the request's `id`, when it had one"},
        "outputs": {"type": "array", "items": ref("V2ResponseOutput")},
        "parameters": {
            "type": "object",
            "properties": {
                "prediction_ids": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "one per row when logged, for `POST /api/feedback`",
                }
            },
        },
    },
}
_BINARY_BODY = {
    "type": "string",
    "format": "binary",
    "description": "Triton's binary tensor extension: the JSON header (its length in the "
    "`Inference-Header-Content-Length` header) followed by each tensor's raw little-endian "
    "bytes (`parameters.binary_data_size` per tensor; BYTES elements are length-prefixed)",
}

_V2_TENSOR_METADATA = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": _DATATYPE,
        "shape": {"type": "array", "items": {"type": "integer", "minimum": -1}},
    },
}
_V2_MODEL_METADATA = {
    "type": "object",
    "required": ["name", "versions", "platform", "inputs", "outputs"],
    "properties": {
        "name": {"type": "string"},
        "versions": {"type": "array", "items": {"type": "string"}},
        "platform": {"type": "string"},
        "inputs": {"type": "array", "items": ref("V2TensorMetadata")},
        "outputs": {"type": "array", "items": ref("V2TensorMetadata")},
    },
}

# -- feedback and deployments ------------------------------------------------------------

_FEEDBACK_RECORD = {
    "type": "object",
    "required": ["prediction_id", "label"],
    "additionalProperties": False,
    "properties": {
        "prediction_id": {"type": "string", "minLength": 1},
        "label": {
            "type": ["number", "string", "boolean"],
            "description": "one of the model's classes, or a finite number for a regressor",
        },
    },
}
_FEEDBACK_PROBLEM = {
    "type": "object",
    "required": ["index", "problem"],
    "properties": {
        "index": {"type": ["integer", "null"], "minimum": 0},
        "prediction_id": {"type": "string"},
        "problem": {"type": "string"},
    },
}
_FEEDBACK_RESULT = {
    "type": "object",
    "required": ["accepted", "unknown_ids", "invalid"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0},
        "unknown_ids": {
            "type": "array",
            "items": {"type": "string"},
            "description": "ids not in the prediction log (not stored; the rest is)",
        },
        "invalid": {"type": "array", "items": ref("FeedbackProblem")},
    },
}
_FEEDBACK_REJECTED = {
    "description": "Some record is invalid: nothing was stored, every problem is listed.",
    "allOf": [
        ref("Error"),
        ref("FeedbackResult"),
        {
            "type": "object",
            "required": ["message"],
            "properties": {"error": {"const": "invalid_feedback"}, "accepted": {"const": 0}},
        },
    ],
}

_DEPLOYMENT_SPEC = {
    "type": "object",
    "required": ["name", "arms", "sticky", "shadows"],
    "properties": {
        "name": {"type": "string"},
        "arms": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["ref", "weight"],
                "properties": {"ref": {"type": "string"}, "weight": {"type": "number"}},
            },
        },
        "sticky": {"type": ["string", "null"], "description": "header:NAME or field:NAME"},
        "shadows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["ref", "percent"],
                "properties": {"ref": {"type": "string"}, "percent": {"type": "number"}},
            },
        },
    },
}
_DEPLOYMENT = {
    "allOf": [
        ref("DeploymentSpec"),
        {
            "type": "object",
            "required": ["revision", "updated_at"],
            "properties": {
                "revision": {"type": "integer"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
        },
    ]
}
_DEPLOYMENT_CHANGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["arms"],
    "properties": {
        "arms": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ref", "weight"],
                "properties": {
                    "ref": {"type": "string", "maxLength": 300},
                    "weight": {"type": "number", "minimum": 0},
                },
            },
        },
        "sticky": {"type": ["string", "null"], "maxLength": 200},
        "shadows": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ref", "percent"],
                "properties": {
                    "ref": {"type": "string", "maxLength": 300},
                    "percent": {"type": "number", "minimum": 0, "maximum": 100},
                },
            },
        },
        "reason": {"type": ["string", "null"], "maxLength": 500},
    },
}
_DEPLOYMENT_EVENT = {
    "type": "object",
    "required": ["name", "action", "revision", "spec", "actor", "reason", "at"],
    "properties": {
        "name": {"type": "string"},
        "action": {"type": "string", "enum": ["create", "set", "remove"]},
        "revision": {"type": "integer"},
        "spec": {"anyOf": [ref("DeploymentSpec"), {"type": "null"}]},
        "actor": {"type": "string"},
        "reason": {"type": ["string", "null"]},
        "at": {"type": "string", "format": "date-time"},
    },
}


# -- Triton's extensions and KServe V1 liveness ------------------------------------------

_COUNT = {"type": "integer", "minimum": 0}
_TRITON_TYPE = {"type": "string", "pattern": "^TYPE_[A-Z0-9]+$", "examples": ["TYPE_FP64"]}
_DIMS = {"type": "array", "items": {"type": "integer", "minimum": -1}}
_TRITON_TENSOR = {
    "type": "object",
    "description": "An input or output: `dims` leave out the batch dimension; "
    "`reshape.shape: []` says the tensor has no other (one value per row, `[rows]`).",
    "required": ["name", "data_type", "dims"],
    "properties": {
        "name": {"type": "string"},
        "data_type": _TRITON_TYPE,
        "format": {"type": "string"},
        "dims": _DIMS,
        "reshape": {"type": "object", "properties": {"shape": _DIMS}},
        "is_shape_tensor": {"type": "boolean"},
        "allow_ragged_batch": {"type": "boolean"},
        "optional": {"type": "boolean"},
        "label_filename": {"type": "string"},
    },
}
_TRITON_CONFIG = {
    "type": "object",
    "description": (
        "Triton's model configuration of the version that answers, built from its signature "
        "(the same names, datatypes and shapes as `GET /v2/models/{name}`). `max_batch_size` "
        "is the most rows one request may carry; `dynamic_batching` is the adaptive batcher "
        "(its wait, its bounded queue; `parameters.max_requests_per_batch` is how many "
        "requests one model call takes)."
    ),
    "required": ["name", "platform", "backend", "version_policy", "max_batch_size"],
    "properties": {
        "name": {"type": "string"},
        "platform": {"type": "string"},
        "backend": {"type": "string", "const": "modelport"},
        "version_policy": {
            "type": "object",
            "properties": {
                "specific": {
                    "type": "object",
                    "properties": {"versions": {"type": "array", "items": _COUNT}},
                }
            },
        },
        "max_batch_size": _COUNT,
        "input": {"type": "array", "items": ref("TritonModelTensor")},
        "output": {"type": "array", "items": ref("TritonModelTensor")},
        "dynamic_batching": {
            "type": "object",
            "properties": {
                "max_queue_delay_microseconds": _COUNT,
                "default_queue_policy": {
                    "type": "object",
                    "properties": {"max_queue_size": _COUNT},
                },
            },
        },
        "instance_group": {"type": "array", "items": {"type": "object"}},
        "parameters": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["string_value"],
                "properties": {"string_value": {"type": "string"}},
            },
        },
    },
}
_DURATION = {
    "type": "object",
    "required": ["count", "ns"],
    "properties": {"count": _COUNT, "ns": {**_COUNT, "description": "cumulative nanoseconds"}},
}
_MODEL_STATISTICS = {
    "type": "object",
    "required": [
        "name",
        "version",
        "last_inference",
        "inference_count",
        "execution_count",
        "inference_stats",
    ],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "last_inference": {**_COUNT, "description": "epoch milliseconds; 0 before the first"},
        "inference_count": {**_COUNT, "description": "rows inferred"},
        "execution_count": {**_COUNT, "description": "model calls (batches)"},
        "inference_stats": {
            "type": "object",
            "description": "requests that succeeded and failed with their total time since "
            "arrival; per request, time queued and the batch's compute times",
            "required": ["success", "fail", "queue", "compute_infer"],
            "additionalProperties": ref("TritonDuration"),
        },
        "response_stats": {"type": "object"},
        "batch_stats": {"type": "array"},
        "memory_usage": {"type": "array"},
    },
}
_REPOSITORY_ENTRY = {
    "type": "object",
    "required": ["name", "version", "state", "reason"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string", "description": "empty for a model that is not served"},
        "state": {"type": "string", "enum": ["READY", "UNAVAILABLE"]},
        "reason": {"type": "string"},
    },
}
_REPOSITORY_PARAMETERS = {"type": ["object", "null"], "description": "other keys are ignored"}


def _state(name: str) -> dict[str, Any]:
    return {"type": "object", "required": [name], "properties": {name: {"type": "boolean"}}}


SCHEMAS: dict[str, Any] = {
    "Error": _ERROR,
    "FieldProblem": _PROBLEM,
    "V1PredictRequest": _V1_REQUEST,
    "V1PredictResponse": _V1_RESPONSE,
    "V1ModelStatus": _V1_STATUS,
    "V2InferRequest": _V2_REQUEST,
    "V2RequestInput": _V2_INPUT,
    "V2RequestedOutput": _V2_REQUESTED_OUTPUT,
    "V2InferResponse": _V2_RESPONSE,
    "V2ResponseOutput": _V2_OUTPUT,
    "V2BinaryBody": _BINARY_BODY,
    "V2TensorMetadata": _V2_TENSOR_METADATA,
    "V2ModelMetadata": _V2_MODEL_METADATA,
    "V2ServerMetadata": {
        "type": "object",
        "required": ["name", "version", "extensions"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}},
        },
    },
    "V2Live": _state("live"),
    "V2Ready": _state("ready"),
    "V2ModelReady": {
        "type": "object",
        "required": ["name", "ready"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string", "description": "on the version route"},
            "ready": {"type": "boolean"},
        },
    },
    "V1Live": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "const": "alive"}},
    },
    "TritonModelConfig": _TRITON_CONFIG,
    "TritonModelTensor": _TRITON_TENSOR,
    "TritonStatistics": {
        "type": "object",
        "required": ["model_stats"],
        "properties": {"model_stats": {"type": "array", "items": ref("TritonModelStatistics")}},
    },
    "TritonModelStatistics": _MODEL_STATISTICS,
    "TritonDuration": _DURATION,
    "TritonRepositoryIndexRequest": {
        "type": "object",
        "description": "Optional (tritonclient sends no body). Other keys are ignored.",
        "properties": {
            "ready": {"type": "boolean", "default": False, "description": "served models only"}
        },
    },
    "TritonRepositoryEntry": _REPOSITORY_ENTRY,
    "TritonLoadRequest": {
        "type": "object",
        "description": "Optional. A model comes from the registry only: Triton's `config` and "
        "`file:` overrides are refused (400).",
        "properties": {
            "parameters": {
                **_REPOSITORY_PARAMETERS,
                "propertyNames": {"not": {"anyOf": [{"const": "config"}, {"pattern": "^file:"}]}},
            }
        },
    },
    "TritonUnloadRequest": {
        "type": "object",
        "description": "Optional. No model depends on another here: `unload_dependents` "
        "changes nothing.",
        "properties": {
            "parameters": {
                **_REPOSITORY_PARAMETERS,
                "properties": {"unload_dependents": {"type": "boolean"}},
            }
        },
    },
    "FeedbackRecord": _FEEDBACK_RECORD,
    "FeedbackRequest": {
        "anyOf": [ref("FeedbackRecord"), {"type": "array", "items": ref("FeedbackRecord")}]
    },
    "FeedbackProblem": _FEEDBACK_PROBLEM,
    "FeedbackResult": _FEEDBACK_RESULT,
    "FeedbackRejected": _FEEDBACK_REJECTED,
    "DeploymentSpec": _DEPLOYMENT_SPEC,
    "Deployment": _DEPLOYMENT,
    "DeploymentEvent": _DEPLOYMENT_EVENT,
    "DeploymentChange": _DEPLOYMENT_CHANGE,
}
