"""The OpenAPI components: the JSON Schemas of every body the server reads or writes, and examples.

Each schema describes what the code accepts and answers (:mod:`.protocols.v1`,
:mod:`.protocols.v2`, :mod:`.feedback`, :mod:`.protocols.common`), no stricter and no
looser: the fuzz test holds the server to them. What only a model's signature decides
(feature names, types, categories) is not here; it is refused with 422 and described in
prose. Unknown top-level keys are ignored by the decoders, so the envelopes stay open.
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
}


# -- examples (a credit model: age, income, home, purpose; classes 0 and 1) ---------------

_IDS = ["0192f4c2a1b07e3c9d5a1f08", "0192f4c2a1b07e3c9d5a1f09"]
_RECORDS = [
    {"age": 31, "income": 52000.0, "home": "rent", "purpose": "car"},
    {"age": 58, "income": 87500.5, "home": "own", "purpose": "education"},
]


def example(summary: str, value: Any) -> dict[str, Any]:
    return {"summary": summary, "value": value}


V1_REQUEST_EXAMPLES = {
    "records": example("records", {"instances": _RECORDS}),
    "rows": example("rows, in signature order", {"instances": [[31, 52000.0, "rent", "car"]]}),
    "columns": example(
        "columns, with probabilities",
        {
            "inputs": {k: [r[k] for r in _RECORDS] for k in _RECORDS[0]},
            "parameters": {"probabilities": True},
        },
    ),
}
V1_RESPONSE_EXAMPLES = {
    "predictions": example("predictions", {"predictions": [0, 1], "prediction_ids": _IDS}),
    "probabilities": example(
        "with probabilities",
        {
            "predictions": [0, 1],
            "probabilities": [[0.81, 0.19], [0.27, 0.73]],
            "classes": [0, 1],
            "prediction_ids": _IDS,
        },
    ),
}
V2_REQUEST_EXAMPLES = {
    "per_feature": example(
        "one tensor per feature",
        {
            "id": "req-42",
            "inputs": [
                {"name": "age", "shape": [2], "datatype": "INT64", "data": [31, 58]},
                {"name": "income", "shape": [2], "datatype": "FP64", "data": [52000.0, 87500.5]},
                {"name": "home", "shape": [2], "datatype": "BYTES", "data": ["rent", "own"]},
                {
                    "name": "purpose",
                    "shape": [2],
                    "datatype": "BYTES",
                    "data": ["car", "education"],
                },
            ],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
        },
    ),
    "one_tensor": example(
        "a single [rows, features] tensor (a NumPy-signature model)",
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [2, 4],
                    "datatype": "FP64",
                    "data": [[0.1, -1.2, 0.5, 2.0], [1.5, 0.3, -0.7, 0.0]],
                }
            ],
            "outputs": [{"name": "predict"}],
        },
    ),
}
V2_RESPONSE_EXAMPLES = {
    "outputs": example(
        "both outputs",
        {
            "model_name": "credit-risk",
            "model_version": "3",
            "id": "req-42",
            "outputs": [
                {"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 1]},
                {
                    "name": "predict_proba",
                    "shape": [2, 2],
                    "datatype": "FP64",
                    "data": [0.81, 0.19, 0.27, 0.73],
                },
            ],
            "parameters": {"prediction_ids": _IDS},
        },
    )
}
FEEDBACK_REQUEST_EXAMPLES = {
    "one": example("one label", {"prediction_id": _IDS[0], "label": 1}),
    "many": example(
        "several labels",
        [{"prediction_id": _IDS[0], "label": 1}, {"prediction_id": _IDS[1], "label": 0}],
    ),
}
FEEDBACK_RESULT_EXAMPLE = {"accepted": 1, "unknown_ids": [_IDS[1]], "invalid": []}
FEEDBACK_REJECTED_EXAMPLE = {
    "error": "invalid_feedback",
    "message": "1 feedback record(s) are invalid; nothing was stored",
    "hint": "fix the records listed under 'invalid' and send them all again",
    "accepted": 0,
    "unknown_ids": [],
    "invalid": [
        {
            "index": 0,
            "prediction_id": _IDS[0],
            "problem": "label 7 is not a class of the model; expected one of 0, 1 (credit-risk:3)",
        }
    ],
}
V1_STATUS_EXAMPLE = {
    "name": "credit-risk",
    "ready": True,
    "version": "3",
    "model_version_status": [
        {"version": "3", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ],
}
V2_METADATA_EXAMPLE = {
    "name": "credit-risk",
    "versions": ["1", "2", "3"],
    "platform": "modelport_sklearn",
    "inputs": [
        {"name": "age", "datatype": "INT64", "shape": [-1]},
        {"name": "income", "datatype": "FP64", "shape": [-1]},
        {"name": "home", "datatype": "BYTES", "shape": [-1]},
        {"name": "purpose", "datatype": "BYTES", "shape": [-1]},
    ],
    "outputs": [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
    ],
}
_SPEC_EXAMPLE = {
    "name": "credit",
    "arms": [
        {"ref": "credit-risk@production", "weight": 90.0},
        {"ref": "credit-risk:4", "weight": 10.0},
    ],
    "sticky": "header:x-customer-id",
    "shadows": [],
}
DEPLOYMENT_EXAMPLE = {**_SPEC_EXAMPLE, "revision": 2, "updated_at": "2026-11-30T09:12:44+00:00"}
DEPLOYMENT_EVENT_EXAMPLE = {
    "name": "credit",
    "action": "set",
    "revision": 2,
    "spec": _SPEC_EXAMPLE,
    "actor": "ana",
    "reason": "10% to version 4",
    "at": "2026-11-30T09:12:44+00:00",
}

#: one example error per status, as the server words them
ERROR_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {
        "error": "malformed JSON: unexpected character: line 1 column 2 (char 1) "
        "(send a valid JSON object)",
        "code": "invalid_argument",
    },
    401: {"error": "missing or invalid credentials", "code": "unauthenticated"},
    403: {"error": "this key may not call this route", "code": "permission_denied"},
    404: {
        "error": "model 'credit-rsk' is not served (served models: credit-risk)",
        "code": "model_not_found",
    },
    405: {
        "error": "method GET is not allowed on /v1/models/credit-risk:predict (allowed: POST)",
        "code": "method_not_allowed",
    },
    413: {
        "error": "the body has 2000000 bytes; the limit is 1000000 "
        "(split the rows into several requests)",
        "code": "payload_too_large",
    },
    422: {
        "error": "invalid input: 'home': 'flat' is not a category of the feature",
        "code": "invalid_input",
        "problems": [
            {
                "field": "home",
                "kind": "category",
                "detail": "'flat' is not a category of the feature",
                "rows": [0],
            }
        ],
    },
    429: {"error": "rate limit of 100/s reached", "code": "rate_limited"},
    503: {"error": "the queue of credit-risk:3 is full", "code": "overloaded"},
    504: {"error": "no answer within 30 s", "code": "request_timeout"},
}
