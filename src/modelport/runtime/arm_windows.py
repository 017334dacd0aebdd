"""What each deployment arm did since a canary step began: counts, latencies, predictions,
pairs of answers to the same request, and labels from feedback.

The handlers report every answered request here (only requests routed by a deployment), so
a canary step can compare the candidate with the stable arm over the same window without
reading the log. Samples are bounded (the most recent are kept), so memory stays flat.

Pairs: when a shadow answers a copy of a request an arm answered, both answers are compared
row by row (:func:`agreeing`) and counted per (primary, shadow) version. Shadows' own
predictions are kept apart from the arms': at the 100% step the stable arm answers nothing
and is a shadow of the candidate, and then its predictions (for the shift check) and the
pairs (for agreement) come from those copies. Its requests, errors, latencies and labels
stay those of its last window on the response path: a copy's latency has no queueing in
front of the caller, and its failures (a full shadow queue drops copies) are not the
caller's, so neither compares with the candidate's.

Pairs and labels are counted while a canary watches a deployment (from the controller's
first :meth:`reset` until :meth:`forget`). Labels: the first row of every logged request an
arm answers is remembered (its prediction id, the arm, the predicted class; the most recent
:data:`REMEMBERED` requests over all deployments) for the step it was made in. When feedback
for that id arrives in this process (:meth:`ArmWindows.observe_labels`) within that step,
the arm's window counts a labelled request, and a correct one when the label is the
predicted class; labels slower than a step's interval are the A/B report's. One row per
request, because these counts sit beside the request counts (labelled requests are a share
of the requests) and the rows of one request are often one caller's batch rather than
independent answers. Feedback sent to another worker or replica is not counted (until the
multi-worker work shares these windows): the canary's quality check is optional by design
and then has fewer labels, never wrong ones. Regressors are not counted: the quality check
is a share of wrong answers, and for a number "wrong" needs a tolerance that says nothing
about how wrong; the A/B report (:mod:`modelport.deployments.experiment`) is the place for
error metrics.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelport.deployments.canary import ArmWindow, PairedWindow

#: latency and prediction samples kept per arm and window
SAMPLES = 20_000
#: numeric predictions are binned on the stable arm's deciles for the shift check
BINS = 10
#: requests whose prediction ids wait for feedback, over all deployments (the most recent)
REMEMBERED = 100_000
#: two numeric answers agree when they differ by at most this share of the larger one ...
RELATIVE_TOLERANCE = 0.01
#: ... or by at most this much (answers near zero, where a relative difference explodes)
ABSOLUTE_TOLERANCE = 1e-6


def agreeing(primary: np.ndarray, shadow: np.ndarray, *, classes: bool) -> int:
    """How many rows both answers agree on.

    Classes (``classes=True``, or answers that are not floating point numbers) agree when
    equal. Numbers agree within ``RELATIVE_TOLERANCE`` of the larger magnitude or within
    ``ABSOLUTE_TOLERANCE``: 1% is far below a regression's usual error, so a candidate that
    disagrees beyond it answers differently, not merely rounds differently; and the
    tolerance is symmetric, unlike :func:`numpy.isclose`, so which arm answered first does
    not matter. A row of several outputs agrees when every output does. Answers of
    different shapes agree nowhere.
    """
    a, b = np.asarray(primary), np.asarray(shadow)
    if a.shape != b.shape or a.size == 0:
        return 0
    rows = a.shape[0] if a.ndim else 1
    a, b = a.reshape(rows, -1), b.reshape(rows, -1)
    numeric = not classes and a.dtype.kind == "f" and b.dtype.kind == "f"
    if numeric:
        scale = np.maximum(np.abs(a), np.abs(b))
        same = np.abs(a - b) <= np.maximum(RELATIVE_TOLERANCE * scale, ABSOLUTE_TOLERANCE)
    else:
        same = a == b
    return int(np.count_nonzero(np.all(same, axis=1)))


@dataclass
class _Arm:
    requests: int = 0
    errors: int = 0
    rejected: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    predictions: deque[Any] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    #: as a shadow: the predictions of its copies (never mixed with the ones above)
    copied: deque[Any] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    labelled: int = 0
    correct: int = 0


@dataclass
class _Pairs:
    pairs: int = 0
    agreeing: int = 0


@dataclass(slots=True)
class _Waiting:
    deployment: str
    arm: str
    predicted: Any
    epoch: int
    #: whether its label was the predicted class (None: no label yet)
    correct: bool | None = None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    requests: int
    errors: int
    rejected: int
    latencies: list[float]
    predictions: list[Any]
    labelled: int
    correct: int


class ArmWindows:
    """Per (deployment, arm) tallies since the last :meth:`reset` of that deployment."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._arms: dict[tuple[str, str], _Arm] = {}
        self._pairs: dict[tuple[str, str, str], _Pairs] = {}
        self._last_stable: dict[str, _Snapshot] = {}
        #: prediction id -> the request waiting for its label (or labelled already)
        self._waiting: OrderedDict[str, _Waiting] = OrderedDict()
        self._remembered = remembered
        self._epochs: dict[str, int] = {}
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

    def observe_predictions(
        self,
        deployment: str,
        arm: str,
        predictions: np.ndarray,
        *,
        prediction_id: str | None = None,
        classes: bool = False,
    ) -> None:
        """An arm's answer; with ``prediction_id`` (the request's first logged row) and
        ``classes`` (a classifier answered) the row waits for its label."""
        values = np.asarray(predictions).ravel().tolist()
        with self._lock:
            tally = self._arms.setdefault((deployment, arm), _Arm())
            tally.predictions.extend(values)
            # only while a canary watches the deployment (see reset): 100,000 ids cost
            # tens of megabytes, for nothing when no canary counts their labels
            epoch = self._epochs.get(deployment)
            if prediction_id is not None and classes and values and epoch is not None:
                self._waiting[prediction_id] = _Waiting(deployment, arm, values[0], epoch)
                if len(self._waiting) > self._remembered:
                    self._waiting.popitem(last=False)

    def observe_pair(
        self,
        deployment: str,
        primary: str,
        shadow: str,
        answered: np.ndarray,
        copied: np.ndarray,
        *,
        classes: bool,
    ) -> None:
        """A shadow's answer to a copy of a request the arm ``primary`` answered (counted
        while a canary watches the deployment, see :meth:`reset`)."""
        if deployment not in self._epochs:
            return  # no canary: spare the event loop the comparison (a dict lookup is atomic)
        agree = agreeing(answered, copied, classes=classes)
        rows = int(np.asarray(answered).shape[0]) if np.asarray(answered).ndim else 1
        values = np.asarray(copied).ravel().tolist()
        with self._lock:
            pairs = self._pairs.setdefault((deployment, primary, shadow), _Pairs())
            pairs.pairs += rows
            pairs.agreeing += agree
            self._arms.setdefault((deployment, shadow), _Arm()).copied.extend(values)

    def observe_labels(self, labels: Iterable[tuple[str, Any]]) -> None:
        """Feedback accepted in this process: (prediction id, label) pairs, counted in the step
        their prediction was made in. An id counts once; a later label corrects the first (as
        in the log, where the latest label of an id wins)."""
        with self._lock:
            for prediction_id, label in labels:
                found = self._waiting.get(prediction_id)
                if found is None or found.epoch != self._epochs.get(found.deployment):
                    continue  # not remembered, or made in an earlier step whose window is gone
                tally = self._arms.setdefault((found.deployment, found.arm), _Arm())
                correct = _same_class(label, found.predicted)
                if found.correct is None:
                    tally.labelled += 1
                else:
                    tally.correct -= int(found.correct)
                tally.correct += int(correct)
                found.correct = correct

    def reset(self, deployment: str) -> None:
        """A new window for ``deployment`` (a canary step began); from the first reset on,
        its requests' prediction ids wait for labels too."""
        with self._lock:
            self._clear(deployment)
            # ids still waiting belong to the step that ended: the epoch tells them apart
            self._epochs[deployment] = self._epochs.get(deployment, 0) + 1

    def forget(self, deployment: str) -> None:
        """The deployment's canary ended: drop its windows and stop remembering its ids."""
        with self._lock:
            self._clear(deployment)
            self._epochs.pop(deployment, None)
            self._last_stable.pop(deployment, None)

    def _clear(self, deployment: str) -> None:
        for key in [k for k in self._arms if k[0] == deployment]:
            del self._arms[key]
        for pair in [k for k in self._pairs if k[0] == deployment]:
            del self._pairs[pair]

    def windows(
        self, deployment: str, stable: str, candidate: str, *, stable_answers: bool = True
    ) -> tuple[ArmWindow, ArmWindow, PairedWindow | None]:
        """Both arms' windows, predictions counted over the same bins (classes or deciles),
        and the rows both answered (None when none were paired).

        ``stable_answers=False`` (the 100% step): the stable arm's own window is its last
        one from a step where it answered, closed; the few requests it may still answer
        until the server follows the new weights would otherwise replace it.
        """
        with self._lock:
            a = self._arms.get((deployment, stable), _Arm())
            b = self._arms.get((deployment, candidate), _Arm())
            now = [_snapshot(t) for t in (a, b)]
            closed = False
            if stable_answers:
                if now[0].requests > 0:
                    self._last_stable[deployment] = now[0]
            elif deployment in self._last_stable:
                # the stable arm serves nothing: judge against its last real window
                last = self._last_stable[deployment]
                predictions = last.predictions
                if len(a.copied) >= len(predictions):
                    # as a shadow it answered the same traffic as the candidate: a better
                    # comparison, once it is no smaller than what it replaces
                    predictions = list(a.copied)
                now[0] = _Snapshot(
                    last.requests,
                    last.errors,
                    last.rejected,
                    last.latencies,
                    predictions,
                    last.labelled,
                    last.correct,
                )
                closed = True
            paired = [
                self._pairs[key]
                for key in ((deployment, stable, candidate), (deployment, candidate, stable))
                if key in self._pairs
            ]
        counts = _shared_bins(now[0].predictions, now[1].predictions)
        arms = tuple(
            _window(snapshot, count, is_closed)
            for snapshot, count, is_closed in zip(now, counts, (closed, False), strict=True)
        )
        labelled = any(arm.labelled for arm in arms)
        if not labelled:
            arms = tuple(_without_labels(arm) for arm in arms)
        pairs = sum(p.pairs for p in paired)
        paired_window = PairedWindow(pairs, sum(p.agreeing for p in paired)) if pairs > 0 else None
        return arms[0], arms[1], paired_window


def _snapshot(tally: _Arm) -> _Snapshot:
    return _Snapshot(
        tally.requests,
        tally.errors,
        tally.rejected,
        list(tally.latencies),
        list(tally.predictions),
        tally.labelled,
        tally.correct,
    )


def _window(snapshot: _Snapshot, counts: np.ndarray, closed: bool) -> ArmWindow:
    # a label can only follow an answer, but a reset between the two may drop the request
    # from the window and not the label: never claim more labelled requests than requests
    labelled = min(snapshot.labelled, snapshot.requests)
    return ArmWindow(
        requests=snapshot.requests,
        errors=snapshot.errors,
        rejected=snapshot.rejected,
        latencies_ms=np.asarray(snapshot.latencies, dtype=np.float64),
        prediction_counts=counts,
        labelled=labelled,
        correct=min(snapshot.correct, labelled),
        closed=closed,
    )


def _without_labels(window: ArmWindow) -> ArmWindow:
    """No label arrived for either arm: the quality check has no data (not zero labels)."""
    return ArmWindow(
        requests=window.requests,
        errors=window.errors,
        rejected=window.rejected,
        latencies_ms=window.latencies_ms,
        prediction_counts=window.prediction_counts,
        closed=window.closed,
    )


def _same_class(label: Any, predicted: Any) -> bool:
    # the feedback service turns a label into the model's own class value; True == 1 in
    # Python, but a boolean label is never a numeric class (nor the other way round)
    if isinstance(label, bool) != isinstance(predicted, bool):
        return False
    return bool(label == predicted)


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
