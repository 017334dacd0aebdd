"""``signature.json`` of an edge bundle: a version's signature as the rules the runner applies.

The rules are the server's (:mod:`modelport.schema.validation`): every feature in order
with its kind, dtype and whether it is required (a feature that was never null in the
training sample must be sent and must not be null); the categories a category feature
accepts and whether it accepts others; unknown fields refused. The ranges seen in
training are recorded for the device's users but, as on the server, not enforced: a
value outside them is valid input (only the server's opt-in ``--ood-policy reject``
refuses such rows, by a score over the reference profile the bundle does not carry).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.errors import UnsupportedModel
from modelport.schema import Signature

#: the feature kinds the runner validates; the server also parses date/times with pandas
RUNNER_KINDS = ("float", "integer", "boolean", "category", "string")


def rules_document(signature: Signature, classes: list[Any] | None, source: str) -> dict[str, Any]:
    """The JSON document for ``signature.json``; UnsupportedModel for kinds it cannot check."""
    unreadable = [f.name for f in signature.inputs if f.kind not in RUNNER_KINDS]
    if unreadable:
        raise UnsupportedModel(
            f"the edge runner cannot validate the date/time features {', '.join(unreadable)} "
            "(the server parses them with pandas, which the device does not have)",
            hint="register a version whose date/time columns are turned into numbers "
            "(e.g. days since an epoch) before the model, then export that one",
        )
    features = [
        {
            "name": f.name,
            "kind": f.kind,
            "dtype": f.dtype,
            "required": not f.nullable,
            "nullable": f.nullable,
            "categories": f.categories,
            "unknown_categories": f.unknown_categories,
            "min": f.min,
            "max": f.max,
        }
        for f in signature.inputs
    ]
    outputs = signature.outputs
    return {
        "source": source,
        "input_kind": signature.input_kind,
        "features": features,
        "allow_unknown_categories": signature.allow_unknown_categories,
        "unknown_fields": "refused",
        "ranges": "min and max seen in training, not enforced (as on the server)",
        "outputs": {
            "kind": outputs.kind if outputs else ("class" if classes is not None else "value"),
            "classes": None if classes is None else [_plain(c) for c in classes],
            "has_proba": outputs.has_proba if outputs else classes is not None,
        },
    }


def _plain(value: Any) -> Any:
    """NumPy scalars as the JSON values the server answers with."""
    return value.item() if isinstance(value, np.generic) else value
