"""Rate limits and concurrency caps, on a fake clock."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelport.errors import InvalidArgument
from modelport.security.limits import ConcurrencyLimits, Rate, TokenBuckets, parse_rate


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("text", "per_second", "burst"),
    [
        ("100/s", 100.0, 100.0),
        ("10/sec", 10.0, 10.0),
        ("6000/min", 100.0, 100.0),
        ("5000/h", 5000 / 3600, 1.0 * 5000 / 3600),
        ("60/h", 1 / 60, 1.0),
        ("0.5/s", 0.5, 1.0),
        ("100/s,burst=200", 100.0, 200.0),
        (" 10 / MIN , burst = 5 ", 10 / 60, 5.0),
        ("1/hour", 1 / 3600, 1.0),
    ],
)
def test_rates_parse(text: str, per_second: float, burst: float) -> None:
    rate = parse_rate(text)
    assert rate.per_second == pytest.approx(per_second)
    assert rate.burst == pytest.approx(burst)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "100",
        "/s",
        "100/",
        "100/fortnight",
        "0/s",
        "0.0/min",
        "-5/s",
        "inf/s",
        "nan/s",
        "1e3/s",
        "9" * 400 + "/s",
        "100/s,burst=0",
        "100/s,burst=0.5",
        "100/s,burst=-1",
        "100/s,burst=inf",
        "100/s,burst",
        "100/s;burst=5",
        "\u0661\u0660/s",
    ],
)
def test_nonsense_rates_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_rate(text)
    assert caught.value.hint


def test_a_rate_built_by_hand_is_checked() -> None:
    for per_second, burst in [(0.0, 1.0), (math.nan, 1.0), (1.0, math.inf), (-1.0, 1.0)]:
        with pytest.raises(InvalidArgument):
            Rate(per_second, burst)


def test_a_burst_passes_then_the_next_request_learns_when_to_retry() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(parse_rate("10/s,burst=5"), clock=clock)
    assert [buckets.take("k") for _ in range(5)] == [0.0] * 5
    assert buckets.take("k") == pytest.approx(0.1)
    clock.advance(0.04)
    assert buckets.take("k") == pytest.approx(0.06)
    assert buckets.take("other") == 0.0  # keys do not share a bucket


def test_waiting_exactly_retry_after_succeeds() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(parse_rate("3/s,burst=1"), clock=clock)
    assert buckets.take("k") == 0.0
    wait = buckets.take("k")
    assert wait == pytest.approx(1 / 3)
    clock.advance(wait)
    assert buckets.take("k") == 0.0


def test_a_hair_before_the_boundary_is_still_refused() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(parse_rate("1/s,burst=1"), clock=clock)
    buckets.take("k")
    clock.advance(0.999)
    assert buckets.take("k") == pytest.approx(0.001)
    clock.advance(0.001)
    assert buckets.take("k") == 0.0


def test_refill_stops_at_the_burst() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(parse_rate("10/s,burst=3"), clock=clock)
    buckets.take("k")
    clock.advance(3600)
    assert [buckets.take("k") for _ in range(3)] == [0.0] * 3
    assert buckets.take("k") > 0


def test_a_costly_request_takes_more_tokens() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(parse_rate("2/s,burst=4"), clock=clock)
    assert buckets.take("k", cost=3) == 0.0
    assert buckets.take("k", cost=3) == pytest.approx(1.0)  # 1 left, 2 more at 2/s
    for cost in (0, -1, 5, math.nan):
        with pytest.raises(InvalidArgument):
            buckets.take("k", cost=cost)


def test_a_refused_request_takes_nothing() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(parse_rate("1/s,burst=1"), clock=clock)
    buckets.take("k")
    for _ in range(100):
        assert buckets.take("k") > 0
    clock.advance(1.0)
    assert buckets.take("k") == 0.0


def test_memory_is_bounded_by_forgetting_the_least_recently_used() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(parse_rate("1/s,burst=1"), max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        buckets.take(key)
    buckets.take("a")  # refused, but used: "b" is now the least recent
    buckets.take("d")
    assert len(buckets) == 3
    assert buckets.take("a") > 0  # still remembered, still empty
    assert buckets.take("b") == 0.0  # forgotten, so full again
    for i in range(1000):
        buckets.take(f"flood-{i}")
    assert len(buckets) == 3


def test_max_keys_must_be_positive() -> None:
    with pytest.raises(InvalidArgument):
        TokenBuckets(parse_rate("1/s"), max_keys=0)


@given(
    st.lists(
        st.tuples(st.floats(0, 2, allow_nan=False), st.sampled_from([0.5, 1.0, 2.0])),
        max_size=60,
    ),
    st.sampled_from(["1/s,burst=2", "10/s", "3/min,burst=2", "250/s,burst=4"]),
)
def test_no_window_lets_more_through_than_burst_plus_refill(
    steps: list[tuple[float, float]], text: str
) -> None:
    rate = parse_rate(text)
    clock = FakeClock(0.0)
    buckets = TokenBuckets(rate, clock=clock)
    taken = 0.0
    for wait, cost in steps:
        clock.advance(wait)
        if cost <= rate.burst and buckets.take("k", cost) == 0.0:
            taken += cost
        assert taken <= rate.burst + clock.now * rate.per_second + 1e-6


def test_concurrency_is_capped_per_key_and_released() -> None:
    limits = ConcurrencyLimits(2)
    assert limits.try_acquire("k") and limits.try_acquire("k")
    assert not limits.try_acquire("k")
    assert limits.try_acquire("other")
    assert limits.in_flight("k") == 2
    limits.release("k")
    assert limits.in_flight("k") == 1
    assert limits.try_acquire("k")


def test_a_key_with_nothing_in_flight_is_forgotten() -> None:
    limits = ConcurrencyLimits(1)
    for i in range(100):
        assert limits.try_acquire(f"k{i}")
        limits.release(f"k{i}")
    assert len(limits) == 0
    assert limits.in_flight("k0") == 0


def test_releasing_what_was_not_acquired_is_a_bug_that_raises() -> None:
    limits = ConcurrencyLimits(1)
    limits.try_acquire("k")
    limits.release("k")
    with pytest.raises(InvalidArgument):
        limits.release("k")
    assert limits.try_acquire("k") and not limits.try_acquire("k")


@pytest.mark.parametrize("cap", [0, -1, True, 1.5])
def test_a_cap_must_be_a_positive_integer(cap: object) -> None:
    with pytest.raises(InvalidArgument):
        ConcurrencyLimits(cap)  # type: ignore[arg-type]
