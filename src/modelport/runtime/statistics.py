"""Per-version inference statistics: counts and cumulative durations, as Triton reports them.

Prometheus has the server's latency histograms; Triton's statistics extension wants exact
running totals per served version (requests that succeeded and failed, their cumulative
nanoseconds, time queued and computing, model executions and rows inferred), which clients
(``tritonclient``'s ``get_inference_statistics``, perf_analyzer) difference between two
reads. These are plain integers on each :class:`~modelport.runtime.pool.ServedVersion`,
so they live and die with it, like Triton's do with a loaded model.

Two threads write them, never the same field: the event loop counts requests as they are
answered (:meth:`VersionStatistics.answered`), the batcher's one worker thread counts
model executions (:meth:`VersionStatistics.executed`). Readers may see one update of a
batch before the next; each total is exact once the requests finish.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

_NS = 1_000_000_000


@dataclass(slots=True)
class Duration:
    """How many times something happened, and how long it took in total (nanoseconds)."""

    count: int = 0
    ns: int = 0

    def add(self, seconds: float, times: int = 1) -> None:
        self.count += times
        self.ns += int(seconds * _NS)

    def to_dict(self) -> dict[str, int]:
        return {"count": self.count, "ns": self.ns}


@dataclass(slots=True)
class VersionStatistics:
    """The running totals of one served version."""

    #: rows inferred (Triton counts a batch of 8 as 8 inferences)
    inference_count: int = 0
    #: model calls: one per batch the batcher ran
    execution_count: int = 0
    #: epoch milliseconds of the last answered request (0: none yet)
    last_inference: int = 0
    success: Duration = field(default_factory=Duration)
    fail: Duration = field(default_factory=Duration)
    #: from entering the batcher's queue to the start of its batch
    queue: Duration = field(default_factory=Duration)
    #: assembling the batch's input, calling the model, splitting the outputs (per request)
    compute_input: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    compute_output: Duration = field(default_factory=Duration)

    def answered(self, ok: bool, seconds: float) -> None:
        """One request finished (on the event loop): ``seconds`` since it arrived."""
        (self.success if ok else self.fail).add(seconds)
        self.last_inference = int(time.time() * 1000)

    def executed(
        self,
        rows: int,
        queued: list[float],
        started: float,
        assembled: float,
        inferred: float,
        finished: float,
    ) -> None:
        """One batch ran (in the batcher's thread); ``queued`` are its requests' enqueue times.

        Every request of a batch waited for all of it, so each is charged the batch's
        compute times, as Triton charges the requests of a dynamic batch.
        """
        n = len(queued)
        self.execution_count += 1
        self.inference_count += rows
        for at in queued:
            self.queue.add(started - at)
        self.compute_input.add((assembled - started) * n, n)
        self.compute_infer.add((inferred - assembled) * n, n)
        self.compute_output.add((finished - inferred) * n, n)


def model_stats(name: str, version: int, stats: VersionStatistics) -> dict[str, Any]:
    """One entry of Triton's ``model_stats`` list."""
    zero = Duration().to_dict()
    return {
        "name": name,
        "version": str(version),
        "last_inference": stats.last_inference,
        "inference_count": stats.inference_count,
        "execution_count": stats.execution_count,
        "inference_stats": {
            "success": stats.success.to_dict(),
            "fail": stats.fail.to_dict(),
            "queue": stats.queue.to_dict(),
            "compute_input": stats.compute_input.to_dict(),
            "compute_infer": stats.compute_infer.to_dict(),
            "compute_output": stats.compute_output.to_dict(),
            # no response cache: every request is a miss that costs nothing to look up
            "cache_hit": zero,
            "cache_miss": zero,
        },
        "response_stats": {},
        "batch_stats": [],
        "memory_usage": [],
    }
