"""Prediction ids: 32 hex digits, time-ordered: 48-bit milliseconds, a 32-bit random
prefix of this process, and a 48-bit counter.

The time prefix lets feedback find the day partition of the log an id belongs to
without an index, and sorts ids by when they were made (like UUIDv7). The process
prefix and counter make ids unique across workers and restarts without a system
call per prediction (os.urandom per id cost about 4% of a small model's request).

An id is made as one 128-bit integer turned into hex through its bytes: formatting the
three fields with padding cost 3 us per id on the serving event loop (most requests log one
row), this 0.8 us, and 0.3-0.5 us per id for many (a NumPy layout of the bytes, hex-encoded
at once, was no cheaper). ``next`` on the shared counter is atomic, so threads never share
a value; the values of one call are increasing.
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import UTC, datetime

_HEX = frozenset("0123456789abcdef")
_COUNTER_BITS = 48
_COUNTER_MASK = (1 << _COUNTER_BITS) - 1

#: the process prefix, in place in the 128-bit id
_PROCESS = int.from_bytes(os.urandom(4), "big") << _COUNTER_BITS
_counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


def new_prediction_ids(count: int, now: float | None = None) -> list[str]:
    """``count`` fresh ids sharing one timestamp (one batch)."""
    ms = int((time.time() if now is None else now) * 1000)
    prefix = (ms << 80) | _PROCESS
    if count == 1:
        return [(prefix | (next(_counter) & _COUNTER_MASK)).to_bytes(16, "big").hex()]
    take = _counter.__next__
    return [(prefix | (take() & _COUNTER_MASK)).to_bytes(16, "big").hex() for _ in range(count)]


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
