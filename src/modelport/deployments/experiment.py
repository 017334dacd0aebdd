"""The A/B experiment report between the arms of a deployment: pure functions on plain arrays.

Per arm: requests, the labelled share, the metric's mean with its always-valid confidence
sequence (:mod:`.sequences`: Waudby-Smith et al.'s asymptotic confidence sequences), latency
p50/p99. Per candidate against the control: the difference with its sequence, an anytime-valid
p-value and a verdict. Over all arms: a sample-ratio-mismatch test against the weights.

The control is the first arm (the deployment's stable arm, listed first), not the arm with the
highest weight: weights move during a ramp-up, the control must not.

Several comparisons (candidates, metrics): the confidence sequences split alpha equally among
all of them (Bonferroni). A union bound holds for the time-uniform events themselves, so the
family-wise error stays below alpha over every look, which Benjamini-Hochberg does not promise
under continuous peeking. BH-adjusted p-values (from the anytime-valid p-values, each a valid
p-value at any stopping time) are reported alongside as a per-metric decision at false
discovery rate alpha; a sequence that excludes zero always implies a BH discovery, not the
reverse. Only the decision metric's sequence decides the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from modelport.deployments.sequences import (
    TARGET_SAMPLES,
    DifferenceEstimate,
    MeanEstimate,
    as_values,
    check_alpha,
    difference_sequence,
    finite,
    mean_sequence,
)
from modelport.errors import InvalidArgument

# scipy is imported inside the functions that use it: a server imports this module on
# its start path, and scipy costs it ~0.3 s and ~30 MB for statistics it runs once per
# monitoring or canary poll, never per request.

Verdict = Literal["winner", "loser", "inconclusive", "invalid"]

#: SRM is flagged below this chi-square p-value, a common conservative choice (on SRM and
#: its causes: Fabijan et al., "Diagnosing Sample Ratio Mismatch in Online Controlled
#: Experiments", KDD 2019)
SRM_THRESHOLD = 0.001
#: no verdict before this many labels per arm (the variance estimate needs some data)
MIN_SAMPLES = 100


# -- sample-ratio mismatch, multiple comparisons, latency -------------------------------------


def srm_p_value(requests: ArrayLike, weights: ArrayLike) -> float | None:
    """Chi-square goodness-of-fit p-value of the request counts against the weights.

    Pearson's statistic ``sum((observed - expected)^2 / expected)`` with ``k - 1`` degrees of
    freedom, as ``scipy.stats.chisquare``. Arms of weight 0 leave the test (their expected count
    is 0) unless they received requests, which is a mismatch for certain (p = 0). None when
    there is nothing to test: no requests, or fewer than two arms of positive weight.
    """
    from scipy import stats

    observed = as_values(requests, "request counts")
    if np.any(observed < 0):
        raise InvalidArgument(
            f"request counts must be non-negative, got {observed.tolist()}", hint="e.g. 900, 100"
        )
    w = _weights(weights, observed.size)
    total = float(observed.sum())
    if total <= 0:
        return None
    positive = w > 0
    if np.any(observed[~positive] > 0):
        return 0.0
    if int(positive.sum()) < 2:
        return None
    expected = total * w[positive] / w[positive].sum()
    statistic = float(np.sum((observed[positive] - expected) ** 2 / expected))
    return float(stats.chi2.sf(statistic, int(positive.sum()) - 1))


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values: ``scipy.stats.false_discovery_control``.

    ``q_(i) = min_{j >= i} min(1, m p_(j) / j)`` over the sorted p-values; deciding
    ``q <= alpha`` is the step-up procedure at false discovery rate alpha.
    """
    from scipy import stats

    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise InvalidArgument(
            "p-values must be a 1-D array of numbers in [0, 1]", hint=f"got {p_values!r}"
        )
    if p.size == 0:
        return p
    return np.asarray(stats.false_discovery_control(p, method="bh"))


@dataclass(frozen=True)
class LatencySummary:
    """p50 and p99 of an arm's latencies (plain quantiles, linear interpolation), in ms."""

    count: int
    p50: float | None
    p99: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "p50": finite(self.p50), "p99": finite(self.p99)}


def latency_summary(latencies_ms: ArrayLike, *, what: str = "latencies") -> LatencySummary:
    values = as_values(latencies_ms, what)
    if np.any(values < 0):
        raise InvalidArgument(f"{what} contain negative durations", hint="milliseconds, >= 0")
    if values.size == 0:
        return LatencySummary(count=0, p50=None, p99=None)
    p50, p99 = np.quantile(values, [0.5, 0.99])
    return LatencySummary(count=int(values.size), p50=float(p50), p99=float(p99))


def _ratio(candidate: float | None, control: float | None) -> float | None:
    if candidate is None or control is None or control <= 0:
        return None
    return candidate / control


# -- the verdict ----------------------------------------------------------------------------


def verdict(
    difference: DifferenceEstimate,
    *,
    srm: bool,
    labelled: tuple[int, int],
    min_samples: int = MIN_SAMPLES,
    higher_is_better: bool = True,
) -> Verdict:
    """The candidate against the control: ``invalid`` (SRM) before ``inconclusive`` (an arm
    below ``min_samples`` labels, or a sequence that contains 0) before ``winner``/``loser``."""
    if srm:
        return "invalid"
    if min(labelled) < min_samples or not difference.excludes_zero:
        return "inconclusive"
    better = difference.lower is not None and difference.lower > 0
    return "winner" if better == higher_is_better else "loser"


# -- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmData:
    """What is known of one arm: its requests, the labelled requests' values, latencies.

    ``values`` are the per-request values of the decision metric for the labelled requests (1
    or 0 for accuracy); ``metrics`` optional further metrics by name, the same names in every
    arm, each compared too (with the multiple-comparison corrections of the module docstring).
    """

    ref: str
    requests: int
    values: ArrayLike
    latencies_ms: ArrayLike = ()
    metrics: Mapping[str, ArrayLike] = field(default_factory=dict)
    #: randomisation units (distinct sticky keys) when assignment is by key, not by request:
    #: the split is then tested on them (three requests of one user are one draw, not three)
    units: int | None = None


@dataclass(frozen=True)
class ArmReport:
    ref: str
    weight: float
    expected_share: float
    requests: int
    estimate: MeanEstimate
    latency: LatencySummary
    metrics: Mapping[str, MeanEstimate]

    def to_dict(self, total_requests: int) -> dict[str, Any]:
        labelled = self.estimate.n
        return {
            "ref": self.ref,
            "weight": finite(self.weight),
            "requests": self.requests,
            "expected_share": finite(self.expected_share),
            "observed_share": finite(self.requests / total_requests) if total_requests else None,
            "labelled": labelled,
            "labelled_share": finite(labelled / self.requests) if self.requests else None,
            "metric": finite(self.estimate.mean),
            "std": finite(self.estimate.std),
            "interval": {
                "lower": finite(self.estimate.lower),
                "upper": finite(self.estimate.upper),
            },
            "latency_ms": self.latency.to_dict(),
            "metrics": {name: e.to_dict() for name, e in self.metrics.items()},
        }


@dataclass(frozen=True)
class MetricComparison:
    """One metric of a candidate against the control, with its BH-adjusted p-value."""

    metric: str
    estimate: DifferenceEstimate
    adjusted_p_value: float
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            **self.estimate.to_dict(),
            "adjusted_p_value": finite(self.adjusted_p_value),
            "significant": bool(self.adjusted_p_value <= self.alpha),
        }


@dataclass(frozen=True)
class Comparison:
    """A candidate against the control: the decision metric first, then the others."""

    control: str
    candidate: str
    metrics: tuple[MetricComparison, ...]
    verdict: Verdict
    latency: Mapping[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        primary = self.metrics[0]
        return {
            "control": self.control,
            "candidate": self.candidate,
            **primary.to_dict(),
            "verdict": self.verdict,
            "latency_ms": {k: finite(v) for k, v in self.latency.items()},
            "metrics": [m.to_dict() for m in self.metrics[1:]],
        }


@dataclass(frozen=True)
class ExperimentReport:
    metric: str
    alpha: float
    arm_alpha: float
    difference_alpha: float
    min_samples: int
    target_samples: float
    arms: tuple[ArmReport, ...]
    comparisons: tuple[Comparison, ...]
    srm_p_value: float | None
    srm_threshold: float
    verdict: Verdict
    winner: str | None

    @property
    def srm(self) -> bool:
        return self.srm_p_value is not None and self.srm_p_value < self.srm_threshold

    def to_dict(self) -> dict[str, Any]:
        total = sum(arm.requests for arm in self.arms)
        return {
            "metric": self.metric,
            "control": self.arms[0].ref,
            "alpha": finite(self.alpha),
            "confidence": {
                "arms": finite(1 - self.arm_alpha),
                "differences": finite(1 - self.difference_alpha),
            },
            "min_samples": self.min_samples,
            "target_samples": finite(self.target_samples),
            "arms": [arm.to_dict(total) for arm in self.arms],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "srm_p_value": finite(self.srm_p_value),
            "srm_threshold": finite(self.srm_threshold),
            "srm": self.srm,
            "verdict": self.verdict,
            "winner": self.winner,
        }


def experiment_report(
    arms: Sequence[ArmData],
    weights: Sequence[float],
    *,
    alpha: float = 0.05,
    min_samples: int = MIN_SAMPLES,
    target_samples: float = TARGET_SAMPLES,
    metric: str = "accuracy",
    higher_is_better: bool = True,
    srm_threshold: float = SRM_THRESHOLD,
) -> ExperimentReport:
    """The A/B report: arms[0] is the control, every other arm a candidate against it.

    The overall verdict is ``invalid`` on SRM; else ``winner`` if a candidate wins (the best
    such candidate is ``winner``), ``loser`` if every candidate loses, else ``inconclusive``.
    """
    check_alpha(alpha)
    if not 0 < srm_threshold < 1:
        raise InvalidArgument(f"srm_threshold {srm_threshold} is not in (0, 1)", hint="0.001")
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 2:
        raise InvalidArgument(
            f"min_samples {min_samples!r} is not an integer of at least 2",
            hint="a variance needs two values per arm; the default is 100",
        )
    if len(arms) < 2:
        raise InvalidArgument(
            f"an experiment needs at least two arms, got {len(arms)}",
            hint="the first arm is the control, the others candidates",
        )
    w = _weights(weights, len(arms))
    names = _check_arms(arms, metric)
    m = 1 + len(names)
    arm_alpha = alpha / m
    difference_alpha = alpha / (m * (len(arms) - 1))

    values = [
        {
            metric: as_values(a.values, f"{a.ref}: values"),
            **{n: as_values(a.metrics[n], f"{a.ref}: {n}") for n in names},
        }
        for a in arms
    ]
    arm_reports = tuple(
        ArmReport(
            ref=a.ref,
            weight=float(w[i]),
            expected_share=float(w[i] / w.sum()),
            requests=int(a.requests),
            estimate=mean_sequence(
                values[i][metric], alpha=arm_alpha, target_samples=target_samples
            ),
            latency=latency_summary(a.latencies_ms, what=f"{a.ref}: latencies"),
            metrics={
                n: mean_sequence(values[i][n], alpha=arm_alpha, target_samples=target_samples)
                for n in names
            },
        )
        for i, a in enumerate(arms)
    )
    for a, report in zip(arms, arm_reports, strict=True):
        if report.estimate.n > report.requests:
            raise InvalidArgument(
                f"arm {a.ref!r} has {report.estimate.n} labelled values but {report.requests} "
                "requests",
                hint="values are for labelled requests, a subset of the requests",
            )
    counts = [
        a.units if a.units is not None else r.requests
        for a, r in zip(arms, arm_reports, strict=True)
    ]
    p_srm = srm_p_value(counts, w)
    srm = p_srm is not None and p_srm < srm_threshold

    differences = [
        [
            difference_sequence(
                values[0][n], values[i][n], alpha=difference_alpha, target_samples=target_samples
            )
            for n in (metric, *names)
        ]
        for i in range(1, len(arms))
    ]
    adjusted = benjamini_hochberg([d.p_value for row in differences for d in row]).reshape(
        len(differences), m
    )
    control = arm_reports[0]
    comparisons = []
    for i, row in enumerate(differences, start=1):
        candidate = arm_reports[i]
        comparisons.append(
            Comparison(
                control=control.ref,
                candidate=candidate.ref,
                metrics=tuple(
                    MetricComparison(metric=n, estimate=d, adjusted_p_value=float(q), alpha=alpha)
                    for n, d, q in zip((metric, *names), row, adjusted[i - 1], strict=True)
                ),
                verdict=verdict(
                    row[0],
                    srm=srm,
                    labelled=(control.estimate.n, candidate.estimate.n),
                    min_samples=min_samples,
                    higher_is_better=higher_is_better,
                ),
                latency=_latency_comparison(control.latency, candidate.latency),
            )
        )
    overall, winner = _overall(comparisons, srm, higher_is_better)
    return ExperimentReport(
        metric=metric,
        alpha=alpha,
        arm_alpha=arm_alpha,
        difference_alpha=difference_alpha,
        min_samples=min_samples,
        target_samples=float(target_samples),
        arms=arm_reports,
        comparisons=tuple(comparisons),
        srm_p_value=p_srm,
        srm_threshold=srm_threshold,
        verdict=overall,
        winner=winner,
    )


def _overall(
    comparisons: Sequence[Comparison], srm: bool, higher_is_better: bool
) -> tuple[Verdict, str | None]:
    if srm:
        return "invalid", None
    winners = [c for c in comparisons if c.verdict == "winner"]
    if winners:
        sign = 1.0 if higher_is_better else -1.0
        best = max(winners, key=lambda c: sign * (c.metrics[0].estimate.difference or 0.0))
        return "winner", best.candidate
    if all(c.verdict == "loser" for c in comparisons):
        return "loser", None
    return "inconclusive", None


def _latency_comparison(
    control: LatencySummary, candidate: LatencySummary
) -> dict[str, float | None]:
    def delta(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a - b

    return {
        "p50_delta": delta(candidate.p50, control.p50),
        "p99_delta": delta(candidate.p99, control.p99),
        "p50_ratio": _ratio(candidate.p50, control.p50),
        "p99_ratio": _ratio(candidate.p99, control.p99),
    }


def _weights(weights: ArrayLike, k: int) -> np.ndarray:
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument("weights are not numbers", hint=f"got {weights!r}") from None
    if w.ndim != 1 or w.size != k:
        raise InvalidArgument(
            f"{w.size} weights for {k} arms", hint="give one weight per arm, in the arms' order"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InvalidArgument(
            f"weights must be finite and non-negative, got {w.tolist()}", hint="e.g. 90, 10"
        )
    if w.sum() <= 0:
        raise InvalidArgument(
            f"weights must sum to a positive number, got {w.tolist()}", hint="e.g. 90, 10"
        )
    return w


def _check_arms(arms: Sequence[ArmData], metric: str) -> tuple[str, ...]:
    """The further metrics' names (the same in every arm); refs unique, counts whole numbers."""
    refs = [a.ref for a in arms]
    if len(set(refs)) != len(refs):
        raise InvalidArgument(f"arms repeat a reference: {refs}", hint="each arm once")
    names = tuple(arms[0].metrics)
    for a in arms:
        if isinstance(a.requests, bool) or not isinstance(a.requests, int | np.integer):
            raise InvalidArgument(f"arm {a.ref!r}: requests {a.requests!r} is not an integer")
        if a.requests < 0:
            raise InvalidArgument(f"arm {a.ref!r}: requests {a.requests} is negative")
        if set(a.metrics) != set(names):
            raise InvalidArgument(
                f"arm {a.ref!r} has metrics {sorted(a.metrics)}, arm {arms[0].ref!r} "
                f"{sorted(names)}",
                hint="every arm reports the same metrics",
            )
    if metric in names:
        raise InvalidArgument(
            f"metric {metric!r} is both the decision metric and a further metric",
            hint="name the further metrics differently",
        )
    return names
