"""Numbers and times in their JSON-safe form: finite floats or null, ISO 8601 UTC strings.

Every monitoring result is written as JSON that strict parsers accept (no NaN, no Infinity),
so each value passes through here on its way out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd


def finite_or_none(value: Any) -> float | None:
    """A finite float, or None (for None, NaN and the infinities)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def iso_time(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).tz_convert("UTC").isoformat()


def json_safe(value: Any) -> Any:
    """JSON-safe: finite floats or None, plain ints, ISO strings for times."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return finite_or_none(value)
    if isinstance(value, pd.Timestamp | datetime):
        return iso_time(value)
    return value
