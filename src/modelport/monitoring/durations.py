"""Durations and times as users write them (``15min``, ``1h``, ``7d``, ``2026-01-05``).

One parser for windows, rule windows and cooldowns, and monitoring periods.

pandas reads a bare number as nanoseconds (``"5"`` is 5 ns), which turned
``--window 5`` into hundreds of billions of windows: a unit is required here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from modelport.errors import InvalidArgument

_BARE_NUMBER = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]*)?\s*")
#: the shortest duration that means something for monitoring traffic
SHORTEST = pd.Timedelta(seconds=1)
# ASCII digits only: ``\d`` also matches other scripts' digits, which pandas then misreads.
_RELATIVE = re.compile(r"[0-9]+(\.[0-9]+)?\s*[a-zA-Z]+")


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


def parse_window(window: str | timedelta) -> pd.Timedelta:
    """``"1h"``, ``"15min"``, ``"1d"`` (or a timedelta) as a Timedelta of at least a second."""
    try:
        return parse_duration(window)
    except ValueError as exc:
        raise InvalidArgument(
            f"window {exc}", hint="a window is a duration with a unit: 15min, 1h or 1d"
        ) from None


def parse_time(value: datetime | str | None, now: datetime | None = None) -> datetime | None:
    """A datetime (UTC) from a datetime, an ISO 8601 string, or a duration back from now."""
    if value is None:
        return None
    now = now or datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if not text.isascii():
        # pandas reads e.g. "\u0662h" (an Arabic-Indic two) as 02:00 on 1 January of year 1
        raise InvalidArgument(
            f"{value!r} is neither a date/time nor a duration",
            hint="write it in ASCII: an ISO date such as 2026-01-05, or a duration such as 24h",
        )
    if _RELATIVE.fullmatch(text):
        try:
            return now - pd.Timedelta(text).to_pytimedelta()
        except ValueError:
            pass
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InvalidArgument(
            f"{value!r} is neither a date/time nor a duration",
            hint="write an ISO date such as 2026-01-05 or 2026-01-05T10:00, or a duration "
            "back from now such as 24h or 7d",
        )
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").to_pydatetime()
