"""What each deployment arm did since a canary step began: counts, latencies, predictions.

The handlers report every answered request here (only requests routed by a deployment), so
a canary step can compare the candidate with the stable arm over the same window without
reading the log. Samples are bounded (the most recent are kept), so memory stays flat.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelport.deployments.canary import ArmWindow

#: latency and prediction samples kept per arm and window
SAMPLES = 20_000
#: numeric predictions are binned on the stable arm's deciles for the shift check
BINS = 10


@dataclass
class _Arm:
    requests: int = 0
    errors: int = 0
    rejected: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    predictions: deque[Any] = field(default_factory=lambda: deque(maxlen=SAMPLES))


class ArmWindows:
    """Per (deployment, arm) tallies since the last :meth:`reset` of that deployment."""

    def __init__(self) -> None:
        self._arms: dict[tuple[str, str], _Arm] = {}
        self._last_stable: dict[str, tuple[int, int, int, list[float], list[Any]]] = {}
        self._lock = threading.Lock()  # the canary reads from a thread

    def observe(self, deployment: str, arm: str, status: int, seconds: float) -> None:
        with self._lock:
            tally = self._arms.setdefault((deployment, arm), _Arm())
            tally.requests += 1
            if status >= 500:
                tally.errors += 1
            elif status >= 400:
                tally.rejected += 1
            else:
                tally.latencies.append(seconds * 1000.0)

    def observe_predictions(self, deployment: str, arm: str, predictions: np.ndarray) -> None:
        with self._lock:
            tally = self._arms.setdefault((deployment, arm), _Arm())
            tally.predictions.extend(np.asarray(predictions).ravel().tolist())

    def reset(self, deployment: str) -> None:
        with self._lock:
            for key in [k for k in self._arms if k[0] == deployment]:
                del self._arms[key]

    def windows(self, deployment: str, stable: str, candidate: str) -> tuple[ArmWindow, ArmWindow]:
        """Both arms' windows, predictions counted over the same bins (classes or deciles)."""
        with self._lock:
            a = self._arms.get((deployment, stable), _Arm())
            b = self._arms.get((deployment, candidate), _Arm())
            snapshot = [
                (t.requests, t.errors, t.rejected, list(t.latencies), list(t.predictions))
                for t in (a, b)
            ]
            closed = False
            if snapshot[0][0] > 0:
                self._last_stable[deployment] = snapshot[0]
            elif deployment in self._last_stable:
                # at 100% the stable arm serves nothing: judge against its last real window
                snapshot[0] = self._last_stable[deployment]
                closed = True
        counts = _shared_bins(snapshot[0][4], snapshot[1][4])
        return tuple(  # type: ignore[return-value]
            ArmWindow(
                requests=requests,
                errors=errors,
                rejected=rejected,
                latencies_ms=np.asarray(latencies, dtype=np.float64),
                prediction_counts=count,
                closed=is_closed,
            )
            for (requests, errors, rejected, latencies, _), count, is_closed in zip(
                snapshot, counts, (closed, False), strict=True
            )
        )


def _shared_bins(stable: list[Any], candidate: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both arms' predictions over one set of bins: the classes seen, or deciles."""
    if not stable or not candidate:
        return np.zeros(0), np.zeros(0)
    numeric = all(isinstance(v, float) for v in stable[:100] + candidate[:100])
    if not numeric:
        labels = sorted({str(v) for v in stable} | {str(v) for v in candidate})
        index = {label: i for i, label in enumerate(labels)}
        a, b = np.zeros(len(labels)), np.zeros(len(labels))
        for v in stable:
            a[index[str(v)]] += 1
        for v in candidate:
            b[index[str(v)]] += 1
        return a, b
    ref = np.asarray(stable, dtype=np.float64)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)[1:-1]))
    cur = np.asarray(candidate, dtype=np.float64)
    stable_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    candidate_counts = np.bincount(
        np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1
    )
    return stable_counts.astype(np.float64), candidate_counts.astype(np.float64)
