"""Prediction ids: the documented layout, unique and ordered across calls and threads."""

from __future__ import annotations

import itertools
import threading

import pytest

from modelport.predictions import ids as ids_module
from modelport.predictions import new_prediction_ids
from modelport.predictions.ids import id_time

NOW = 1_700_000_000.123


def reference(ms: int, process: int, counter: int) -> str:
    """The layout as documented: 12 hex digits of milliseconds, 8 of the process, 12 of
    the counter."""
    return f"{ms:012x}{process:08x}{counter & (2**48 - 1):012x}"


@pytest.mark.parametrize("count", [1, 2, 31, 64, 1000])
def test_ids_follow_the_documented_layout(count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    start = 2**48 - 3  # the counter wraps inside the batch
    monkeypatch.setattr(ids_module, "_counter", itertools.count(start))
    made = new_prediction_ids(count, NOW)
    process = int(made[0][12:20], 16)
    assert made == [reference(1_700_000_000_123, process, start + i) for i in range(count)]
    assert all(id_time(i).timestamp() == pytest.approx(NOW, abs=1e-3) for i in made)  # type: ignore[union-attr]


def test_one_process_shares_its_prefix_and_ids_never_repeat() -> None:
    made = [i for _ in range(200) for i in new_prediction_ids(5, NOW)]
    assert len(set(made)) == len(made)
    assert {i[12:20] for i in made} == {made[0][12:20]}
    assert made == sorted(made)  # same millisecond: the counter orders them


def test_ids_are_ordered_by_time_across_calls() -> None:
    earlier = new_prediction_ids(3, NOW)
    later = new_prediction_ids(3, NOW + 0.001)
    assert max(earlier) < min(later)


def test_threads_never_share_an_id_and_each_call_is_increasing() -> None:
    per_thread: list[list[list[str]]] = [[] for _ in range(8)]
    barrier = threading.Barrier(len(per_thread))

    def make(calls: list[list[str]]) -> None:
        barrier.wait()
        for count in [1, 3, 40] * 50:
            calls.append(new_prediction_ids(count, NOW))

    threads = [threading.Thread(target=make, args=(calls,)) for calls in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for calls in per_thread for call in calls for i in call]
    assert len(every) == 8 * 50 * 44 and len(set(every)) == len(every)
    for calls in per_thread:
        for call in calls:
            assert call == sorted(call)
