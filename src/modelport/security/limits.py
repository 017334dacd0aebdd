"""Per-key rate limits and concurrency caps, checked once per request on the hot path.

A token bucket per key: it refills at the key's rate up to a burst, and each request takes
one token (or ``cost``). Unlike a fixed window it has no boundary at which a client can
send two windows' worth at once, and unlike a sliding log it stores two floats per key,
whatever the rate. A refused request takes nothing and learns exactly when to come back
(``Retry-After``).

Which key a request belongs to (an API key's id, a token's subject) is the caller's
business: these classes only count. They keep no lock, because each server process runs
one asyncio loop and ``take`` never awaits; and they hold at most ``max_keys`` keys, the
least recently used forgotten first, so a flood of keys cannot grow memory without end.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from modelport.errors import InvalidArgument

_HINT = "write a rate as N/s, N/min or N/h, optionally with a burst: 100/s or 6000/min,burst=200"
_RATE = re.compile(
    r"\s*(?P<count>[0-9]+(\.[0-9]+)?)\s*/\s*(?P<unit>[a-z]+)"
    r"(\s*,\s*burst\s*=\s*(?P<burst>[0-9]+(\.[0-9]+)?))?\s*"
)
_SECONDS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_second`` on average, and up to ``burst`` at once after a quiet spell."""

    per_second: float
    burst: float

    def __post_init__(self) -> None:
        for name, value in (("rate", self.per_second), ("burst", self.burst)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InvalidArgument(f"the {name} {value!r} is not a positive number", hint=_HINT)
        if self.burst < 1:
            raise InvalidArgument(
                f"a burst of {self.burst} lets no request through",
                hint="a burst is at least 1 (one request)",
            )


def parse_rate(text: str) -> Rate:
    """``"100/s"``, ``"6000/min"``, ``"5000/h"``, ``"10/s,burst=50"`` as a :class:`Rate`.

    Without ``burst=`` a key may send one second's worth at once, and at least one request
    (``5000/h`` is 1.39/s: a burst of 1.39). Numbers are plain decimals, so nothing like
    ``inf``, ``nan``, ``-5`` or ``1e3`` parses.

    >>> parse_rate("6000/min")
    Rate(per_second=100.0, burst=100.0)
    """
    match = _RATE.fullmatch(str(text).lower())
    if match is None:
        raise InvalidArgument(f"{text!r} is not a rate", hint=_HINT)
    unit = match["unit"]
    if unit not in _SECONDS:
        raise InvalidArgument(
            f"{unit!r} in {text!r} is not a unit of time", hint="use s, min or h: " + _HINT
        )
    count = float(match["count"])
    if count <= 0:
        raise InvalidArgument(f"a rate of {text!r} lets no request through", hint=_HINT)
    per_second = count / _SECONDS[unit]
    burst = float(match["burst"]) if match["burst"] is not None else max(1.0, per_second)
    return Rate(per_second, burst)


class TokenBuckets:
    """One token bucket per key, the least recently used forgotten beyond ``max_keys``.

    A forgotten bucket comes back full. That errs towards letting a request in, and rarely
    matters: a bucket that went unused while ``max_keys`` others were used has mostly
    refilled anyway.

    >>> buckets = TokenBuckets(parse_rate("1/s"))
    >>> buckets.take("key-1")
    0.0
    >>> 0.9 < buckets.take("key-1") <= 1.0
    True
    """

    __slots__ = ("_buckets", "_burst", "_clock", "_max_keys", "_rate", "_slack", "rate")

    def __init__(
        self, rate: Rate, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise InvalidArgument(f"max_keys {max_keys!r} is not a positive integer")
        self.rate = rate
        self._rate = rate.per_second
        self._burst = rate.burst
        # A microsecond's refill: float rounding of clock readings must not make a client
        # that waited exactly Retry-After fail by a hair.
        self._slack = 1e-9 + rate.per_second * 1e-6
        self._max_keys = max_keys
        self._clock = clock
        # key -> [tokens, last refill time]; a list, so a take updates it in place
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, key: str, cost: float = 1.0) -> float:
        """0.0 if ``key`` may go ahead (its tokens are taken), else seconds until it may."""
        # cost 1 is every request's and always fits (a Rate's burst is at least 1): the
        # check is for the other costs only, since this runs once per request
        if cost != 1.0 and not 0 < cost <= self._burst:  # also refuses NaN
            raise InvalidArgument(
                f"a request costing {cost!r} tokens can never pass a burst of {self._burst}",
                hint="a cost is positive and at most the burst",
            )
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = [self._burst, now]
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = now - bucket[1]
            if elapsed > 0:
                bucket[0] = min(self._burst, bucket[0] + elapsed * self._rate)
                bucket[1] = now
        if bucket[0] + self._slack >= cost:
            bucket[0] = max(0.0, bucket[0] - cost)
            return 0.0
        return (cost - bucket[0]) / self._rate

    def __len__(self) -> int:
        return len(self._buckets)


class ConcurrencyLimits:
    """At most ``cap`` requests in flight per key; a key with none in flight is forgotten.

    Pair every successful :meth:`try_acquire` with one :meth:`release` (``try/finally``).
    """

    __slots__ = ("_in_flight", "cap")

    def __init__(self, cap: int) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise InvalidArgument(
                f"a concurrency cap of {cap!r} is not a positive integer",
                hint="the number of requests one key may have in flight, e.g. 8",
            )
        self.cap = cap
        self._in_flight: dict[str, int] = {}

    def try_acquire(self, key: str) -> bool:
        """Count one more request in flight for ``key``, unless it is at the cap."""
        count = self._in_flight.get(key, 0)
        if count >= self.cap:
            return False
        self._in_flight[key] = count + 1
        return True

    def release(self, key: str) -> None:
        """One request of ``key`` finished.

        Releasing what was not acquired is a bug in the caller, and ignoring it would let
        the key exceed its cap later, so it raises.
        """
        count = self._in_flight.get(key, 0)
        if count <= 0:
            raise InvalidArgument(
                f"release of {key!r} without an acquire",
                hint="pair each successful try_acquire with exactly one release",
            )
        if count == 1:
            del self._in_flight[key]
        else:
            self._in_flight[key] = count - 1

    def in_flight(self, key: str) -> int:
        return self._in_flight.get(key, 0)

    def __len__(self) -> int:
        return len(self._in_flight)
