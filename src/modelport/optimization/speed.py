"""How fast a model predicts at the batch sizes serving and batch scoring see.

Per batch size: the median latency of several repeats (the median, because a loaded
machine makes the mean a measure of the neighbours), rows per second, and how much the
process's peak memory grew while predicting. Peak memory is the kernel's RSS high-water
mark (VmHWM), reset before each batch size by writing "5" to /proc/self/clear_refs;
where /proc cannot do that (not Linux, a restricted container) tracemalloc's peak is
used instead, which sees only Python allocations: the report says which.
"""

from __future__ import annotations

import contextlib
import ctypes
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelport.errors import InvalidArgument

MemoryMethod = Literal["vmhwm", "tracemalloc"]
BATCH_SIZES = (1, 64, 10_000)
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True, slots=True)
class BatchSpeed:
    batch_size: int
    median_ms: float
    rows_per_second: float
    #: growth of peak memory while predicting this batch size, in bytes
    peak_memory_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "median_ms": self.median_ms,
            "rows_per_second": self.rows_per_second,
            "peak_memory_bytes": self.peak_memory_bytes,
        }


@dataclass(frozen=True, slots=True)
class SpeedReport:
    batches: list[BatchSpeed]
    repeats: int
    memory_method: MemoryMethod
    artifact_bytes: int | None = None

    def at(self, batch_size: int) -> BatchSpeed | None:
        return next((b for b in self.batches if b.batch_size == batch_size), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches": {str(b.batch_size): b.to_dict() for b in self.batches},
            "repeats": self.repeats,
            "memory_method": self.memory_method,
            "artifact_bytes": self.artifact_bytes,
        }


def measure(
    predict: Callable[[Any], Any],
    inputs: Any,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    *,
    repeats: int = 5,
    artifact_bytes: int | None = None,
) -> SpeedReport:
    """Time ``predict`` on batches of ``inputs`` rows (repeated when a batch needs more).

    ``inputs`` is model-ready input (a DataFrame or a 2-D array); one warm-up call per
    batch size comes first so that lazy initialisation is not timed.
    """
    rows = len(inputs)
    if rows == 0 or repeats < 1 or any(size < 1 for size in batch_sizes):
        raise InvalidArgument(
            f"cannot measure speed on {rows} rows, {repeats} repeats, batches {batch_sizes}",
            hint="pass at least one row, repeats >= 1 and positive batch sizes",
        )
    method: MemoryMethod = "vmhwm" if _reset_high_water_mark() else "tracemalloc"
    results: list[BatchSpeed] = []
    for size in batch_sizes:
        batch = _batch(inputs, size)
        predict(batch)
        times: list[float] = []
        peak = _peak_growth(method, predict, batch)
        for _ in range(repeats):
            started = time.perf_counter()
            predict(batch)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        results.append(
            BatchSpeed(
                batch_size=size,
                median_ms=median * 1000,
                rows_per_second=size / median if median > 0 else float("inf"),
                peak_memory_bytes=peak,
            )
        )
    return SpeedReport(results, repeats, method, artifact_bytes)


def _batch(inputs: Any, size: int) -> Any:
    """``size`` rows: the inputs' own rows, cycled."""
    index = np.resize(np.arange(len(inputs)), size)
    if isinstance(inputs, pd.DataFrame):
        return inputs.iloc[index].reset_index(drop=True)
    return np.asarray(inputs)[index]


def _release_free_memory() -> None:
    """Give the allocator's free pages back to the system (glibc ``malloc_trim``).

    Without it, the warm-up call's freed buffers stay resident and the measured call
    reuses them, so its allocations never raise the high-water mark.
    """
    # not glibc: the mark may then read low
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _peak_growth(method: MemoryMethod, predict: Callable[[Any], Any], batch: Any) -> int:
    if method == "vmhwm":
        _release_free_memory()
    if method == "vmhwm" and _reset_high_water_mark():
        before = _status_kib("VmRSS")
        predict(batch)
        after = _status_kib("VmHWM")
        if before is not None and after is not None:
            return max(0, after - before) * 1024
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    current, _ = tracemalloc.get_traced_memory()
    try:
        predict(batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(0, peak - current)


def _reset_high_water_mark() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
