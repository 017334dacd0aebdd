"""choose_runtime: the fastest at the batch sizes of the workload."""

from __future__ import annotations

import pytest

from modelport.errors import InvalidArgument
from modelport.optimization.choice import choose_runtime, runtime_scores
from modelport.optimization.speed import BatchSpeed, SpeedReport


def report(**latencies: float) -> SpeedReport:
    sizes = {"one": 1, "small": 64, "large": 10_000}
    batches = [BatchSpeed(sizes[k], ms, sizes[k] / ms * 1000, 0) for k, ms in latencies.items()]
    return SpeedReport(batches, repeats=3, memory_method="vmhwm")


SPEEDS = {
    # native: slow on single rows (Python overhead), fast on large batches
    "native": report(one=1.0, small=1.2, large=40.0),
    "onnx": report(one=0.1, small=0.3, large=60.0),
}


def test_online_traffic_keeps_the_fastest_on_small_batches() -> None:
    assert choose_runtime(SPEEDS, "online") == "onnx"


def test_batch_traffic_keeps_the_fastest_on_large_batches() -> None:
    assert choose_runtime(SPEEDS, "batch") == "native"


def test_both_uses_the_geometric_mean_of_the_ratios() -> None:
    scores = runtime_scores(SPEEDS, "both")
    assert scores["onnx"] == pytest.approx((1.0 * 1.0 * 1.5) ** (1 / 3))
    assert scores["native"] == pytest.approx((10.0 * 4.0 * 1.0) ** (1 / 3))
    assert choose_runtime(SPEEDS, "both") == "onnx"


def test_a_tie_keeps_the_first_candidate() -> None:
    same = {"native": report(one=1.0), "onnx": report(one=1.0)}
    assert choose_runtime(same, "online") == "native"


def test_unmeasured_sizes_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="batch"):
        choose_runtime({"native": report(one=1.0)}, "batch")
    with pytest.raises(InvalidArgument):
        choose_runtime({}, "online")
