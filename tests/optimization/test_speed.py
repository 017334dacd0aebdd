"""speed.measure: latencies per batch size, rows/s, peak memory growth."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.errors import InvalidArgument
from modelport.optimization.speed import measure


def test_each_batch_size_is_measured_on_rows_cycled_from_the_inputs() -> None:
    seen: list[int] = []

    def predict(batch: Any) -> np.ndarray:
        seen.append(len(batch))
        return np.asarray(batch["x"])

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    result = measure(predict, frame, (1, 64, 1000), repeats=3, artifact_bytes=123)
    assert [b.batch_size for b in result.batches] == [1, 64, 1000]
    # a warm-up, the memory call and three timed repeats per size
    assert seen == [1] * 5 + [64] * 5 + [1000] * 5
    for batch in result.batches:
        assert batch.median_ms > 0
        assert batch.rows_per_second == pytest.approx(batch.batch_size / batch.median_ms * 1000)
    assert result.artifact_bytes == 123
    assert result.memory_method in ("vmhwm", "tracemalloc")
    assert set(result.to_dict()["batches"]) == {"1", "64", "1000"}


def test_peak_memory_sees_a_large_allocation() -> None:
    def predict(batch: Any) -> np.ndarray:
        # 40 MB: above glibc's largest mmap threshold (32 MB), so always fresh pages, never
        # memory an earlier test freed and the allocator kept resident
        scratch = np.ones((len(batch), 500_000))
        return np.asarray(scratch.sum(axis=1))

    result = measure(predict, np.zeros((10, 2)), (10,), repeats=1)
    assert result.batches[0].peak_memory_bytes >= 30_000_000


def test_nothing_to_measure_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        measure(lambda b: b, np.zeros((0, 2)))
    with pytest.raises(InvalidArgument):
        measure(lambda b: b, np.zeros((3, 2)), repeats=0)
