"""Prediction ids: 32 hex digits, time-ordered (48-bit milliseconds, then 80 random bits).

The time prefix lets feedback find the day partition of the log an id belongs to
without an index, and sorts ids by when they were made (like UUIDv7).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

_HEX = frozenset("0123456789abcdef")


def new_prediction_ids(count: int, now: float | None = None) -> list[str]:
    """``count`` fresh ids sharing one timestamp (one batch)."""
    ms = int((time.time() if now is None else now) * 1000)
    prefix = f"{ms:012x}"
    randomness = os.urandom(10 * count).hex()
    return [prefix + randomness[i * 20 : (i + 1) * 20] for i in range(count)]


def id_time(prediction_id: str) -> datetime | None:
    """When an id was made, or None if it is not one of ours."""
    if not isinstance(prediction_id, str) or len(prediction_id) != 32:
        return None
    if not set(prediction_id) <= _HEX:
        return None
    try:
        return datetime.fromtimestamp(int(prediction_id[:12], 16) / 1000, UTC)
    except (ValueError, OverflowError, OSError):  # hex, but not a time we could have made
        return None
