"""The OpenAPI examples: requests and answers as the server words them.

Written for a credit model (features age, income, home, purpose; classes 0 and 1) like the
one the tests serve, which answers every request example with 200; the tests also check
each example against the schema beside it in the document.
"""

from __future__ import annotations

from typing import Any

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
_PER_ROW = {"dims": [1], "reshape": {"shape": []}}
_FLAGS = {"is_shape_tensor": False, "allow_ragged_batch": False, "optional": False}
TRITON_CONFIG_EXAMPLE = {
    "name": "credit-risk",
    "platform": "modelport_sklearn",
    "backend": "modelport",
    "version_policy": {"specific": {"versions": [1, 2, 3]}},
    "max_batch_size": 100000,
    "input": [
        {"name": "age", "data_type": "TYPE_INT64", "format": "FORMAT_NONE", **_PER_ROW, **_FLAGS},
        {"name": "income", "data_type": "TYPE_FP64", "format": "FORMAT_NONE", **_PER_ROW, **_FLAGS},
    ],
    "output": [
        {"name": "predict", "data_type": "TYPE_INT64", **_PER_ROW, "label_filename": ""},
        {"name": "predict_proba", "data_type": "TYPE_FP64", "dims": [2], "label_filename": ""},
    ],
    "dynamic_batching": {
        "max_queue_delay_microseconds": 0,
        "default_queue_policy": {"max_queue_size": 2048},
    },
    "instance_group": [{"name": "credit-risk", "kind": "KIND_CPU", "count": 1, "gpus": []}],
    "parameters": {
        "modelport_version": {"string_value": "3"},
        "flavor": {"string_value": "sklearn"},
        "max_requests_per_batch": {"string_value": "64"},
        "classes": {"string_value": "[0,1]"},
    },
}


def _duration(count: int, ns: int) -> dict[str, int]:
    return {"count": count, "ns": ns}


TRITON_STATISTICS_EXAMPLE = {
    "model_stats": [
        {
            "name": "credit-risk",
            "version": "3",
            "last_inference": 1764668400123,
            "inference_count": 240,
            "execution_count": 31,
            "inference_stats": {
                "success": _duration(118, 96_400_000),
                "fail": _duration(2, 1_100_000),
                "queue": _duration(120, 20_300_000),
                "compute_input": _duration(120, 4_100_000),
                "compute_infer": _duration(120, 51_800_000),
                "compute_output": _duration(120, 900_000),
                "cache_hit": _duration(0, 0),
                "cache_miss": _duration(0, 0),
            },
            "response_stats": {},
            "batch_stats": [],
            "memory_usage": [],
        }
    ]
}
REPOSITORY_INDEX_EXAMPLE = [
    {
        "name": "credit-risk",
        "version": "3",
        "state": "READY",
        "reason": "served as credit-risk, credit-risk@production",
    },
    {
        "name": "churn",
        "version": "",
        "state": "UNAVAILABLE",
        "reason": "not served; POST /v2/repository/models/churn/load serves it",
    },
]
REPOSITORY_INDEX_REQUEST_EXAMPLES = {
    "all": example("every registered model", {}),
    "ready": example("the served models only", {"ready": True}),
}
LOAD_REQUEST_EXAMPLES = {"plain": example("what tritonclient sends", {})}
LOAD_EXAMPLE = {
    "name": "credit-risk",
    "version": "4",
    "state": "READY",
    "reason": "served as credit-risk@staging",
}
UNLOAD_REQUEST_EXAMPLES = {
    "plain": example("what tritonclient sends", {"parameters": {"unload_dependents": False}})
}
UNLOAD_EXAMPLE = {
    "name": "credit-risk",
    "version": "",
    "state": "UNAVAILABLE",
    "reason": "unloaded credit-risk@staging (versions retired: credit-risk:4)",
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
CHANGE_EXAMPLE = {
    "arms": [
        {"ref": "credit-risk@production", "weight": 90},
        {"ref": "credit-risk:4", "weight": 10},
    ],
    "sticky": "header:x-customer-id",
    "shadows": [],
    "reason": "10% to version 4",
}
REMOVED_EXAMPLE = {
    **DEPLOYMENT_EVENT_EXAMPLE,
    "action": "remove",
    "revision": 3,
    "spec": None,
    "actor": "5f0c9a1e2b3d",
    "reason": "the experiment ended",
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
    409: {
        "error": "'credit-risk' is already a model's name (clients address deployments like "
        "models: pick another name)",
        "code": "conflict",
    },
    413: {
        "error": "the body has 2000000 bytes; the limit is 1000000 "
        "(split the rows into several requests)",
        "code": "payload_too_large",
    },
    415: {
        "error": "unsupported Content-Encoding 'br' (send the body uncompressed, or "
        "compressed with one of gzip, deflate)",
        "code": "unsupported_encoding",
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
    500: {
        "error": "artifact of credit-risk:4 does not match its sha256 (re-register the version)",
        "code": "artifact_integrity",
    },
    429: {"error": "rate limit of 100/s reached", "code": "rate_limited"},
    503: {"error": "the queue of credit-risk:3 is full", "code": "overloaded"},
    504: {"error": "no answer within 30 s", "code": "request_timeout"},
}
