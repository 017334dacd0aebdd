"""Which runtime to keep: the fastest at the batch sizes the workload sends.

Online traffic is single requests and small micro-batches (1 and 64 rows), batch scoring
large chunks (10,000); "both" weighs every measured size. Over several sizes the
candidates are ranked by the geometric mean of their latency ratios to the fastest at
each size, so that a 10,000-row batch's milliseconds do not drown a single row's
microseconds. Ties keep the earlier candidate (the caller lists the original first, so a
conversion has to be faster to win).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from modelport.errors import InvalidArgument
from modelport.optimization.speed import SpeedReport

Traffic = Literal["online", "batch", "both"]
TRAFFIC_SIZES: dict[str, tuple[int, ...] | None] = {
    "online": (1, 64),
    "batch": (10_000,),
    "both": None,  # every size measured for all candidates
}


def choose_runtime(speeds: Mapping[str, SpeedReport], traffic: Traffic) -> str:
    """The key of ``speeds`` whose report is fastest for ``traffic``."""
    scores = runtime_scores(speeds, traffic)
    return min(scores, key=lambda name: (scores[name], list(scores).index(name)))


def runtime_scores(speeds: Mapping[str, SpeedReport], traffic: Traffic) -> dict[str, float]:
    """Per candidate, the geometric mean of its latency over the fastest's (1.0 is best)."""
    if not speeds:
        raise InvalidArgument("no candidates to choose from", hint="measure at least one")
    if traffic not in TRAFFIC_SIZES:
        raise InvalidArgument(
            f"unknown traffic {traffic!r}", hint="use one of: online, batch, both"
        )
    measured = set.intersection(*({b.batch_size for b in r.batches} for r in speeds.values()))
    wanted = TRAFFIC_SIZES[traffic]
    sizes = sorted(measured if wanted is None else measured & set(wanted))
    if not sizes:
        raise InvalidArgument(
            f"no batch size of the {traffic} workload ({wanted}) was measured for every candidate",
            hint="measure the batch sizes 1, 64 and 10000",
        )
    best = {size: min(_latency(r, size) for r in speeds.values()) for size in sizes}
    scores: dict[str, float] = {}
    for name, report in speeds.items():
        logs = [math.log(_latency(report, size) / best[size]) for size in sizes]
        scores[name] = math.exp(sum(logs) / len(logs))
    return scores


def _latency(report: SpeedReport, size: int) -> float:
    batch = report.at(size)
    assert batch is not None  # sizes are those every report measured
    # a timer that read 0 would make every ratio infinite
    return max(batch.median_ms, 1e-9)
