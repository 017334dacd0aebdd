"""Durations as users write them (``15min``, ``1h``, ``7d``): one parser for windows and rules.

pandas reads a bare number as nanoseconds (``"5"`` is 5 ns), which turned
``--window 5`` into hundreds of billions of windows: a unit is required here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pandas as pd

_BARE_NUMBER = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]*)?\s*")
#: the shortest duration that means something for monitoring traffic
SHORTEST = pd.Timedelta(seconds=1)


def parse_duration(value: Any, *, shortest: pd.Timedelta = SHORTEST) -> pd.Timedelta:
    """A duration of at least ``shortest`` (and positive); ValueError saying what is wrong.

    ``shortest=pd.Timedelta(0)`` also accepts zero (a cooldown of ``0s`` is no cooldown).
    """
    if isinstance(value, timedelta):
        duration = pd.Timedelta(value)
    else:
        text = str(value).strip()
        if _BARE_NUMBER.fullmatch(text):
            raise ValueError(f"{text!r} has no unit: write e.g. {text}min or {text}h")
        try:
            duration = pd.Timedelta(text)
        except (ValueError, TypeError):
            raise ValueError(f"{value!r} is not a duration: write e.g. 15min, 1h or 1d") from None
    if duration < pd.Timedelta(0) or (duration == pd.Timedelta(0) < shortest):
        raise ValueError(f"{value!r} must be positive: write e.g. 1h")
    if duration < shortest:
        raise ValueError(f"{value!r} is shorter than a second: write e.g. 1min or 1h")
    return duration
