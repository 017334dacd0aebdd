"""KServe V1 / TF-Serving JSON: ``POST /v1/models/{name}:predict``.

Request, one of::

    {"instances": [[1.0, 2.0], ...]}                  rows in signature order
    {"instances": [{"age": 31, "home": "rent"}, ...]}  records
    {"inputs": {"age": [31, 45], "home": ["rent", "own"]}}  columns (TF-Serving columnar)
    {"inputs": [[1.0, 2.0], ...]}                      rows again

Add ``"parameters": {"probabilities": true}`` to also get class probabilities (a boolean;
anything else is refused). A request without rows is refused with 422.

Response::

    {"predictions": [0, 1, ...], "prediction_ids": ["0192f4...", ...]}
    {"predictions": [0, 1], "probabilities": [[0.9, 0.1], ...], "classes": [0, 1], ...}

``prediction_ids`` (one per row) are there when the prediction was logged; send them
back with the ground truth to ``POST /api/feedback``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelport.errors import InvalidArgument
from modelport.schema.validation import no_rows
from modelport.serving.protocols.common import json_kind, load_json, shown


@dataclass(frozen=True, slots=True)
class V1Request:
    data: Any
    probabilities: bool = False


def decode_request(body: bytes) -> V1Request:
    """Request bytes -> the input for ``LoadedModel.prepare`` (raises 400 on a bad envelope)."""
    doc = load_json(body)
    if not isinstance(doc, dict):
        raise InvalidArgument(
            "the body must be a JSON object", hint='send {"instances": [...]} or {"inputs": ...}'
        )
    has_instances = "instances" in doc
    if has_instances == ("inputs" in doc):
        raise InvalidArgument(
            'give exactly one of "instances" and "inputs"',
            hint='rows or records: {"instances": [...]}; columns: {"inputs": {"f": [...]}}',
        )
    data = doc["instances"] if has_instances else doc["inputs"]
    if isinstance(data, dict) and has_instances:
        data = [data]  # one record
    if not isinstance(data, (list, dict)):
        raise InvalidArgument(
            f'"{"instances" if has_instances else "inputs"}" must be a list or an object, '
            f"got {json_kind(data)}",
            hint="send rows, records or columns",
        )
    if not data:
        raise no_rows()
    return V1Request(data, _probabilities(doc.get("parameters")))


def _probabilities(parameters: Any) -> bool:
    """``parameters.probabilities``: absent is false; anything but a boolean is refused."""
    if parameters is None:
        return False
    if not isinstance(parameters, dict):
        raise InvalidArgument(
            f'"parameters" must be an object, got {json_kind(parameters)}',
            hint='send {"parameters": {"probabilities": true}}',
        )
    probabilities = parameters.get("probabilities", False)
    if not isinstance(probabilities, bool):
        raise InvalidArgument(
            f'"parameters.probabilities" must be true or false, got {shown(probabilities)}',
            hint='send {"parameters": {"probabilities": true}}',
        )
    return probabilities


def encode_response(
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
    classes: list[Any] | None,
    ids: list[str] | None = None,
) -> bytes:
    doc: dict[str, Any] = {"predictions": predictions.tolist()}
    if probabilities is not None:
        doc["probabilities"] = probabilities.tolist()
        doc["classes"] = classes
    if ids is not None:
        doc["prediction_ids"] = ids
    return orjson.dumps(doc)


def status(name: str, version: int, ready: bool = True) -> dict[str, Any]:
    """``GET /v1/models/{name}``: KServe V1 readiness plus TF-Serving's version status."""
    return {
        "name": name,
        "ready": ready,
        "version": str(version),
        "model_version_status": [
            {
                "version": str(version),
                "state": "AVAILABLE" if ready else "LOADING",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ],
    }
