"""What both protocols share: JSON parsing with 400s and the ``{"error": ...}`` body."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from modelport.errors import InvalidArgument, ModelportError


def load_json(body: bytes) -> Any:
    """Parse a JSON body; malformed JSON is the client's mistake (400), never a 500."""
    if not body:
        raise InvalidArgument("the request body is empty", hint="send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"malformed JSON: {exc}", hint="send a valid JSON object") from exc


def error_body(exc: ModelportError) -> bytes:
    """The Open Inference Protocol error shape ``{"error": "..."}``, plus our details."""
    data: dict[str, Any] = {"error": str(exc), "code": exc.code}
    problems = getattr(exc, "problems", None)
    if problems:
        data["problems"] = [p.to_dict() for p in problems]
    return orjson.dumps(data)


def plain(values: np.ndarray) -> list[Any]:
    """A NumPy result as JSON-ready Python values (labels may be strings or numbers)."""
    return values.tolist()
