"""A table as the JSON lines ``predict.py`` reads: one object per row, feature -> value."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def json_lines(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row, as a client writes it: NumPy scalars as plain values,
    missing numbers as null (JSON has no NaN, and the runner refuses the NaN token)."""
    return [json.dumps(plain_record(record)) for record in frame.to_dict("records")]


def plain_record(record: Mapping[Any, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and math.isnan(value):
            value = None
        plain[str(key)] = value
    return plain
