"""The analysis behind an automated canary: pure functions on plain counts and arrays.

A canary moves traffic to a candidate arm in steps (5, 25, 50, 100 percent). After every
interval the candidate is compared with the stable arm over the same window::

    requests      below ``min_requests`` on either arm: wait, no verdict
    error rate    5xx share, candidate minus stable
    rejections    4xx share (validation), candidate minus stable
    latency       p99 ratio, candidate over stable
    output shift  PSI of the prediction counts over shared bins
    agreement     share of paired requests on which both arms agree
    quality       accuracy drop on labelled requests (feedback)

Every check follows one rule: it **passes** while the observed value is within its limit; it
**fails** (rollback) when the observed value is beyond the limit *and* a one-sided test says
the candidate is really worse than the stable arm (really below the limit, for agreement).
Beyond the limit without that evidence, either the window is too small to tell the limit from
noise at all (**unresolved**: the verdict is ``wait``, a later window decides), or it could and
still does not decide (**undecided**: the step is ``inconclusive`` and the canary pauses rather
than promotes). The limit is the practical tolerance, the test keeps noise from rolling back a
good candidate. Each enabled check tests at ``alpha`` divided by the number of enabled checks
(Bonferroni), so when the candidate is no worse than the stable arm, noise rolls it back with
probability at most ``alpha`` per look over all checks together (the tests measure it by
simulation); over several steps the looks add up, at most ``alpha`` each. So a lone 5xx in 10
requests is a 10% error rate beyond the limit, but not evidence, and 10 requests cannot
resolve a 1-point limit: below the request minimum there is no verdict at all, and above it
such a window still waits.

The tests, each chosen to stay valid at small counts and with zeros:

* proportions (errors, rejections, wrong answers): the lower confidence bound of the
  difference of two proportions by MOVER (the "method of variance estimates recovery" of Zou
  and Donner, Stat. Med. 27:1693, 2008; with Wilson limits it is Newcombe's method 10, Stat.
  Med. 17:873, 1998) from exact Clopper-Pearson limits of each proportion. Wilson's lower limit
  is too high at one or two events (Brown, Cai and DasGupta, Stat. Sci. 16:101, 2001), which
  would call one 5xx in 10 against a 1% stable arm significant; the exact limits do not.
  The pooled two-proportion z-test fails the same way at small counts.
* p99 latency: distribution-free order-statistic bounds of each arm's 99th percentile (the
  number of samples below a quantile is binomial); fail when the candidate's lower bound is
  above the stable arm's upper bound, each at half the check's level.
* output shift: Pearson's chi-square test of homogeneity of the two count vectors (bins empty
  in both arms dropped); PSI is the same formula as ``modelport.monitoring.statistics.psi``,
  written out here because deployments sit below monitoring in the layers.
* agreement: the exact (Clopper-Pearson) upper bound of the agreeing share.

Which checks are made: a threshold of None disables its check; a check whose data is not
given (no paired window, no labels, no prediction counts, no latencies) is not made. A check
with some data but fewer samples than its minimum is not made either, and says so. A canary
never promotes on a required check (error rate, rejections, latency, output shift) it could not
make: at the last step too few samples hold the verdict at ``wait``, no data at all makes it
``inconclusive`` (waiting will not bring data nobody collects). Agreement and quality stay
optional, since shadows and feedback are opt-in.

At the 100% step the stable arm answers no traffic: its window there has to come from copies of
the traffic (the stable arm as a shadow). Without a stable window the verdict is ``wait``, never
``promote``: promoting without a comparison is what a canary exists to prevent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from modelport.deployments.sequences import finite
from modelport.errors import ConflictError, InvalidArgument, InvalidReference
from modelport.reference import parse

Verdict = Literal["advance", "promote", "rollback", "wait", "inconclusive"]
Status = Literal["running", "paused", "rolled_back", "promoted", "aborted"]
Command = Literal["pause", "resume", "abort", "promote"]
CheckStatus = Literal["pass", "fail", "undecided", "unresolved", "too_few", "no_data", "disabled"]

FINISHED: frozenset[str] = frozenset({"rolled_back", "promoted", "aborted"})
#: floor of a proportion in PSI, as ``modelport.monitoring.statistics.PSI_EPSILON``
PSI_EPSILON = 1e-4


# -- thresholds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CanaryThresholds:
    """When a step passes. None disables a check; rates are shares (0.01 = 1 point).

    The defaults: the candidate may add at most 1 point of 5xx and 1 point of 4xx, have a p99
    at most 1.5 times the stable arm's, shift its predictions by a PSI of at most 0.2 (the
    usual "significant shift" line), agree with the stable arm on at least 90% of paired
    requests, and lose at most 5 accuracy points on labelled requests; each judged with a
    one-sided test (see the module docstring) once its minimum sample is there.
    """

    #: candidate minus stable 5xx share beyond which the step fails (if significant)
    max_error_rate_increase: float | None = 0.01
    #: candidate minus stable 4xx share (validation rejections), likewise
    max_rejection_rate_increase: float | None = 0.01
    #: candidate p99 over stable p99
    max_p99_ratio: float | None = 1.5
    #: population stability index of the prediction counts
    max_psi: float | None = 0.2
    #: share of paired requests on which the candidate answers as the stable arm does
    min_agreement: float | None = 0.9
    #: stable accuracy minus candidate accuracy on labelled requests: a canary guards against
    #: breakage, finer differences are the A/B report's (:mod:`.experiment`); at 90% accuracy
    #: the noise of the difference on 500 labels per arm is about 2 points already
    max_accuracy_drop: float | None = 0.05
    #: the chance per look that noise rolls back a candidate no worse than the stable arm,
    #: over all checks together: each enabled check tests at ``check_alpha``, alpha divided
    #: by the number of enabled checks (Bonferroni)
    alpha: float = 0.05
    #: below this many requests on either arm the verdict is wait
    min_requests: int = 100
    #: latencies per arm before the p99 is compared: a distribution-free upper bound of the
    #: stable arm's p99 at check_alpha / 2 (0.0042 with every check on) needs 546 values,
    #: below that no p99 could fail
    min_latency_samples: int = 600
    #: predictions per arm before the distributions are compared (PSI is biased upward by
    #: about (bins - 1) (1/n_stable + 1/n_candidate) from sampling alone)
    min_predictions: int = 100
    #: pairs before agreement is judged
    min_pairs: int = 100
    #: labelled requests per arm before quality is judged
    min_labels: int = 500

    def __post_init__(self) -> None:
        for name in ("max_error_rate_increase", "max_rejection_rate_increase", "max_accuracy_drop"):
            value = getattr(self, name)
            if value is not None and not (_is_number(value) and 0 <= value < 1):
                raise InvalidArgument(
                    f"{name} {value!r} is not a share in [0, 1)", hint="e.g. 0.01 for 1 point"
                )
        if self.max_p99_ratio is not None and not (
            _is_number(self.max_p99_ratio) and self.max_p99_ratio >= 1
        ):
            raise InvalidArgument(
                f"max_p99_ratio {self.max_p99_ratio!r} is not a number of at least 1",
                hint="e.g. 1.5: the candidate's p99 may be 1.5 times the stable arm's",
            )
        if self.max_psi is not None and not (_is_number(self.max_psi) and self.max_psi > 0):
            raise InvalidArgument(f"max_psi {self.max_psi!r} is not a positive number", hint="0.2")
        if self.min_agreement is not None and not (
            _is_number(self.min_agreement) and 0 < self.min_agreement <= 1
        ):
            raise InvalidArgument(
                f"min_agreement {self.min_agreement!r} is not a share in (0, 1]", hint="0.9"
            )
        if not (_is_number(self.alpha) and 0 < self.alpha < 0.5):
            raise InvalidArgument(f"alpha {self.alpha!r} is not in (0, 0.5)", hint="e.g. 0.05")
        for name in (
            "min_requests",
            "min_latency_samples",
            "min_predictions",
            "min_pairs",
            "min_labels",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"{name} {value!r} is not a positive integer", hint="100")

    @property
    def check_alpha(self) -> float:
        """The level of each check's one-sided test: alpha over the enabled checks."""
        limits = (
            self.max_error_rate_increase,
            self.max_rejection_rate_increase,
            self.max_p99_ratio,
            self.max_psi,
            self.min_agreement,
            self.max_accuracy_drop,
        )
        return self.alpha / max(1, sum(limit is not None for limit in limits))

    def to_dict(self) -> dict[str, Any]:
        return {k: (finite(v) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CanaryThresholds:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgument(
                f"unknown canary thresholds: {', '.join(unknown)}",
                hint=f"known: {', '.join(sorted(known))}",
            )
        return cls(**data)


# -- the windows ----------------------------------------------------------------------------


# eq=False: the fields hold arrays, whose == is elementwise
@dataclass(frozen=True, eq=False)
class ArmWindow:
    """One arm over one analysis window.

    ``errors`` (5xx) and ``rejected`` (4xx) are counted among ``requests``; ``latencies_ms``
    one per answered request (or a sample of them); ``prediction_counts`` the counts per bin
    or class, over the same bins for both arms; ``labelled``/``correct`` from feedback, None
    when there is none.
    """

    requests: int
    errors: int = 0
    rejected: int = 0
    latencies_ms: ArrayLike = ()
    prediction_counts: ArrayLike = ()
    labelled: int | None = None
    correct: int | None = None

    def __post_init__(self) -> None:
        _count(self.requests, "requests")
        _count(self.errors, "errors", at_most=(self.requests, "requests"))
        _count(self.rejected, "rejected", at_most=(self.requests, "requests"))
        if self.errors + self.rejected > self.requests:
            raise InvalidArgument(
                f"errors {self.errors} plus rejected {self.rejected} exceed requests "
                f"{self.requests}",
                hint="a request is answered, rejected (4xx) or failed (5xx): count it once",
            )
        latencies = _array(self.latencies_ms, "latencies_ms")
        if np.any(latencies < 0):
            raise InvalidArgument("latencies_ms contain negative durations", hint="ms, >= 0")
        counts = _array(self.prediction_counts, "prediction_counts")
        if np.any(counts < 0):
            raise InvalidArgument("prediction_counts contain negative counts")
        object.__setattr__(self, "latencies_ms", latencies)
        object.__setattr__(self, "prediction_counts", counts)
        if (self.labelled is None) != (self.correct is None):
            raise InvalidArgument(
                "labelled and correct go together",
                hint="give both (labelled requests, of which correct), or neither",
            )
        if self.labelled is not None and self.correct is not None:
            _count(self.labelled, "labelled", at_most=(self.requests, "requests"))
            _count(self.correct, "correct", at_most=(self.labelled, "labelled"))


@dataclass(frozen=True)
class PairedWindow:
    """Requests answered by both arms (shadowed, or sticky-matched) and how many agree."""

    pairs: int
    agreeing: int

    def __post_init__(self) -> None:
        _count(self.pairs, "pairs")
        _count(self.agreeing, "agreeing", at_most=(self.pairs, "pairs"))


# -- the results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One check: ``passed`` is True (pass), False (fail: rollback) or None (any other status:
    undecided, unresolved, too few samples, no data, disabled)."""

    name: str
    status: CheckStatus
    value: float | None
    limit: float | None
    reason: str | None = None
    details: Mapping[str, float | int | None] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        return {"pass": True, "fail": False}.get(self.status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "status": self.status,
            "value": finite(self.value),
            "limit": finite(self.limit),
            "reason": self.reason,
            "details": {
                k: v if isinstance(v, int) or v is None else finite(v)
                for k, v in self.details.items()
            },
        }


@dataclass(frozen=True)
class StepVerdict:
    verdict: Verdict
    step_index: int
    percent: float
    reasons: tuple[str, ...]
    checks: Mapping[str, CheckResult]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "step_index": self.step_index,
            "percent": finite(self.percent),
            "reasons": list(self.reasons),
            "checks": {name: c.to_dict() for name, c in self.checks.items()},
        }


# -- the statistics -------------------------------------------------------------------------


def clopper_pearson(
    successes: ArrayLike, n: ArrayLike, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact limits of a proportion: each side covers with probability >= 1 - alpha.

    Beta quantiles (Clopper and Pearson, Biometrika 26:404, 1934); 0 and 1 at the edges and
    for n = 0. Vectorised.
    """
    x = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = stats.beta.ppf(alpha, np.maximum(x, 1), np.maximum(m - x + 1, 1))
        upper = stats.beta.ppf(1 - alpha, np.maximum(x + 1, 1), np.maximum(m - x, 1))
    lower = np.where(x <= 0, 0.0, lower)
    upper = np.where(x >= m, 1.0, upper)
    return np.asarray(lower), np.asarray(upper)


def increase_lower_bound(
    stable_events: ArrayLike,
    stable_n: ArrayLike,
    candidate_events: ArrayLike,
    candidate_n: ArrayLike,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The observed increase ``p_candidate - p_stable`` and its one-sided (1 - alpha) lower
    bound by MOVER from Clopper-Pearson limits (see the module docstring). Vectorised; arms
    with n = 0 give NaN."""
    xs, ns = np.asarray(stable_events, float), np.asarray(stable_n, float)
    xc, nc = np.asarray(candidate_events, float), np.asarray(candidate_n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ps, pc = xs / ns, xc / nc
        lower_c, _ = clopper_pearson(xc, nc, alpha)
        _, upper_s = clopper_pearson(xs, ns, alpha)
        difference = pc - ps
        bound = difference - np.sqrt((pc - lower_c) ** 2 + (upper_s - ps) ** 2)
    return np.asarray(difference), np.asarray(bound)


def quantile_bounds(values: ArrayLike, q: float, alpha: float) -> tuple[float | None, float | None]:
    """Distribution-free one-sided (1 - alpha) lower and upper bounds of the q-quantile.

    The number of samples at or below the true quantile is Binomial(n, q), so the order
    statistic ``x_(k)`` is below it with probability ``P(Binomial >= k)``: the lower bound is
    the largest such k with that probability >= 1 - alpha, the upper bound the smallest k with
    ``P(Binomial <= k - 1) >= 1 - alpha``. None where no order statistic is far enough out
    (a one-sided upper bound of the p99 at level 0.975 needs at least 367 values).
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0:
        return None, None
    # lower: the largest k with cdf(k - 1) <= alpha
    j = int(stats.binom.ppf(alpha, n, q))
    if stats.binom.cdf(j, n, q) > alpha:
        j -= 1
    lower = float(x[j]) if j >= 0 else None  # x_(j+1) in 1-based order
    # upper: the smallest k with cdf(k - 1) >= 1 - alpha, i.e. k - 1 = ppf(1 - alpha)
    k = int(stats.binom.ppf(1 - alpha, n, q)) + 1
    upper = float(x[k - 1]) if k <= n else None
    return lower, upper


def psi_counts(stable_counts: ArrayLike, candidate_counts: ArrayLike) -> float:
    """PSI ``sum((q - p) ln(q / p))`` of two count vectors over the same bins.

    The same formula and floor as ``modelport.monitoring.statistics.psi``, which cannot be
    imported from this layer: proportions below ``PSI_EPSILON`` are raised to it, so a bin
    empty on one side adds a large but finite term.
    """
    s = np.asarray(stable_counts, dtype=np.float64)
    c = np.asarray(candidate_counts, dtype=np.float64)
    p = np.maximum(s / s.sum(), PSI_EPSILON)
    q = np.maximum(c / c.sum(), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def homogeneity_p_value(stable_counts: ArrayLike, candidate_counts: ArrayLike) -> float:
    """Pearson chi-square p-value that both count vectors share one distribution (no Yates
    correction; bins empty in both dropped; 1.0 with fewer than two bins left)."""
    table = np.vstack([stable_counts, candidate_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


# -- the checks -----------------------------------------------------------------------------


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):.2f}%"


def _points(share: float) -> str:
    return f"{100 * share:+.2f} points"


def _proportion_check(
    name: str,
    what: str,
    stable: tuple[int, int],
    candidate: tuple[int, int],
    limit: float | None,
    alpha: float,
    minimum: int,
    unit: str,
) -> CheckResult:
    """A share of bad outcomes that may rise by at most ``limit`` (errors, rejections, wrong
    answers): fail when beyond it and the MOVER lower bound of the increase is above 0."""
    (xs, ns), (xc, nc) = stable, candidate
    if limit is None:
        return CheckResult(name, "disabled", None, None)
    if min(ns, nc) < minimum:
        return CheckResult(
            name,
            "too_few",
            None,
            limit,
            f"{what} not checked: {min(ns, nc)} {unit} on the "
            f"{'stable' if ns < nc else 'candidate'} arm, {minimum} needed",
            {"stable_n": ns, "candidate_n": nc},
        )
    difference, bound = (float(v) for v in increase_lower_bound(xs, ns, xc, nc, alpha))
    details = {
        "stable_rate": xs / ns,
        "candidate_rate": xc / nc,
        "stable_n": ns,
        "candidate_n": nc,
        "lower_bound": bound,
    }
    observed = (
        f"{what}: candidate {100 * xc / nc:.2f}% ({xc} of {nc}) against stable "
        f"{100 * xs / ns:.2f}% ({xs} of {ns}), {_points(difference)}"
    )
    if difference <= limit:
        return CheckResult(name, "pass", difference, limit, None, details)
    if bound > 0:
        reason = (
            f"{observed}: above the {_points(limit)} allowed and significant "
            f"(one-sided {_level(alpha)} lower bound {_points(bound)})"
        )
        return CheckResult(name, "fail", difference, limit, reason, details)
    reason = (
        f"{observed}: above the {_points(limit)} allowed but not significant "
        f"(one-sided {_level(alpha)} lower bound {_points(bound)}, not above 0)"
    )
    # could this window confirm an increase of exactly `limit`? if not, it is too small to
    # tell the limit from noise and more data decides (wait); if it could, the evidence is
    # really ambiguous (inconclusive)
    _, at_limit = increase_lower_bound(xs, ns, min(xs / ns + limit, 1.0) * nc, nc, alpha)
    details["lower_bound_at_limit"] = float(at_limit)
    if not float(at_limit) > 0:
        reason += (
            f"; {nc} {unit} could not confirm even an increase of {_points(limit)}: "
            "more data decides"
        )
        return CheckResult(name, "unresolved", difference, limit, reason, details)
    return CheckResult(name, "undecided", difference, limit, reason, details)


def _latency_check(stable: np.ndarray, candidate: np.ndarray, t: CanaryThresholds) -> CheckResult:
    name, limit = "latency_p99", t.max_p99_ratio
    if limit is None:
        return CheckResult(name, "disabled", None, None)
    if stable.size == 0 or candidate.size == 0:
        arms = (
            "either arm"
            if stable.size == candidate.size
            else ("the stable arm" if stable.size == 0 else "the candidate arm")
        )
        return CheckResult(
            name, "no_data", None, limit, f"p99 latency not checked: no latencies for {arms}"
        )
    if min(stable.size, candidate.size) < t.min_latency_samples:
        return CheckResult(
            name,
            "too_few",
            None,
            limit,
            f"p99 latency not checked: {min(stable.size, candidate.size)} latencies on the "
            f"{'stable' if stable.size < candidate.size else 'candidate'} arm, "
            f"{t.min_latency_samples} needed",
            {"stable_n": int(stable.size), "candidate_n": int(candidate.size)},
        )
    p99_s, p99_c = float(np.quantile(stable, 0.99)), float(np.quantile(candidate, 0.99))
    lower_c, _ = quantile_bounds(candidate, 0.99, t.check_alpha / 2)
    _, upper_s = quantile_bounds(stable, 0.99, t.check_alpha / 2)
    details = {
        "stable_p99": p99_s,
        "candidate_p99": p99_c,
        "candidate_lower_bound": lower_c,
        "stable_upper_bound": upper_s,
        "stable_n": int(stable.size),
        "candidate_n": int(candidate.size),
    }
    # a stable p99 of 0 ms (a clock's resolution): any positive candidate p99 is beyond it
    ratio = p99_c / p99_s if p99_s > 0 else (math.inf if p99_c > 0 else 1.0)
    if ratio <= limit:
        return CheckResult(name, "pass", ratio, limit, None, details)
    observed = (
        f"p99 latency: candidate {p99_c:.1f} ms against stable {p99_s:.1f} ms, "
        f"{ratio:.2f} times, above the {limit:g} times allowed"
    )
    if lower_c is not None and upper_s is not None and lower_c > upper_s:
        reason = (
            f"{observed} and significant (candidate p99 at least {lower_c:.1f} ms, "
            f"stable at most {upper_s:.1f} ms)"
        )
        return CheckResult(name, "fail", ratio, limit, reason, details)
    bounds = "the stable arm has too few latencies for an upper bound"
    if lower_c is not None and upper_s is not None:
        bounds = f"candidate p99 at least {lower_c:.1f} ms, stable at most {upper_s:.1f} ms"
    reason = f"{observed} but not significant ({bounds})"
    # could a ratio of exactly `limit` be confirmed with bounds this wide? if not, more data
    # decides (wait); if so, the evidence is really ambiguous (inconclusive)
    resolvable = (
        lower_c is not None
        and upper_s is not None
        and p99_c > 0
        and p99_s > 0
        and limit * lower_c / p99_c > upper_s / p99_s
    )
    if not resolvable:
        reason += "; the samples are too few to resolve the limit: more data decides"
        return CheckResult(name, "unresolved", ratio, limit, reason, details)
    return CheckResult(name, "undecided", ratio, limit, reason, details)


def _shift_check(stable: np.ndarray, candidate: np.ndarray, t: CanaryThresholds) -> CheckResult:
    name, limit = "prediction_shift", t.max_psi
    if limit is None:
        return CheckResult(name, "disabled", None, None)
    if stable.size == 0 and candidate.size == 0:
        return CheckResult(
            name, "no_data", None, limit, "prediction shift not checked: no counts given"
        )
    if stable.size != candidate.size:
        raise InvalidArgument(
            f"prediction_counts have {stable.size} bins on the stable arm and "
            f"{candidate.size} on the candidate",
            hint="count both arms' predictions over the same bins or classes",
        )
    ns, nc = float(stable.sum()), float(candidate.sum())
    if min(ns, nc) < t.min_predictions:
        return CheckResult(
            name,
            "too_few",
            None,
            limit,
            f"prediction shift not checked: {min(ns, nc):g} predictions on the "
            f"{'stable' if ns < nc else 'candidate'} arm, {t.min_predictions} needed",
            {"stable_n": ns, "candidate_n": nc},
        )
    value = psi_counts(stable, candidate)
    p_value = homogeneity_p_value(stable, candidate)
    details = {"p_value": p_value, "bins": int(stable.size), "stable_n": ns, "candidate_n": nc}
    if value <= limit:
        return CheckResult(name, "pass", value, limit, None, details)
    observed = f"prediction shift: PSI {value:.3f} above the {limit:g} allowed"
    if p_value < t.check_alpha:
        reason = f"{observed} and significant (chi-square p = {p_value:.2g})"
        return CheckResult(name, "fail", value, limit, reason, details)
    reason = f"{observed} but not significant (chi-square p = {p_value:.2g})"
    # the PSI that would just be significant: PSI is about the chi-square statistic times
    # (1/n_stable + 1/n_candidate) under no shift; above the limit, more data decides (wait)
    bins = int(np.count_nonzero(stable + candidate))
    critical = float(stats.chi2.isf(t.check_alpha, max(bins - 1, 1))) * (1 / ns + 1 / nc)
    details["significant_psi"] = critical
    if critical > limit:
        reason += f"; a PSI below {critical:.3f} cannot be significant here: more data decides"
        return CheckResult(name, "unresolved", value, limit, reason, details)
    return CheckResult(name, "undecided", value, limit, reason, details)


def _agreement_check(paired: PairedWindow | None, t: CanaryThresholds) -> CheckResult:
    name, limit = "agreement", t.min_agreement
    if limit is None:
        return CheckResult(name, "disabled", None, None)
    if paired is None:
        return CheckResult(name, "no_data", None, limit, "agreement not checked: no pairs given")
    n, k = paired.pairs, paired.agreeing
    if n < t.min_pairs:
        return CheckResult(
            name,
            "too_few",
            None,
            limit,
            f"agreement not checked: {n} paired requests, {t.min_pairs} needed",
            {"pairs": n},
        )
    value = k / n
    _, upper = clopper_pearson(k, n, t.check_alpha)
    details = {"pairs": n, "agreeing": k, "upper_bound": float(upper)}
    if value >= limit:
        return CheckResult(name, "pass", value, limit, None, details)
    observed = (
        f"agreement with the stable arm: {100 * value:.1f}% of {n} paired requests, "
        f"below the {100 * limit:g}% required"
    )
    if float(upper) < limit:
        reason = (
            f"{observed} and significant (one-sided {_level(t.check_alpha)} upper bound "
            f"{100 * float(upper):.1f}%)"
        )
        return CheckResult(name, "fail", value, limit, reason, details)
    reason = (
        f"{observed} but not significant (one-sided {_level(t.check_alpha)} upper bound "
        f"{100 * float(upper):.1f}%)"
    )
    return CheckResult(name, "undecided", value, limit, reason, details)


def _quality_check(stable: ArmWindow, candidate: ArmWindow, t: CanaryThresholds) -> CheckResult:
    if t.max_accuracy_drop is None:
        return CheckResult("quality", "disabled", None, None)
    # labelled and correct are given together (ArmWindow checks it)
    if stable.labelled is None or candidate.labelled is None:
        return CheckResult(
            "quality", "no_data", None, t.max_accuracy_drop, "quality not checked: no labels"
        )
    if stable.correct is None or candidate.correct is None:
        return CheckResult("quality", "no_data", None, t.max_accuracy_drop, "no correct counts")
    # the accuracy drop is the rise of the share of wrong answers: the same test as errors
    return _proportion_check(
        "quality",
        "quality, the share of wrong answers",
        (stable.labelled - stable.correct, stable.labelled),
        (candidate.labelled - candidate.correct, candidate.labelled),
        t.max_accuracy_drop,
        t.check_alpha,
        t.min_labels,
        "labelled requests",
    )


#: the checks that must have been made before the last step may promote
REQUIRED = ("error_rate", "rejection_rate", "latency_p99", "prediction_shift")


def analyse_step(
    stable: ArmWindow,
    candidate: ArmWindow,
    paired: PairedWindow | None,
    thresholds: CanaryThresholds | None = None,
    *,
    step_index: int,
    steps: Sequence[float],
) -> StepVerdict:
    """The verdict on one step: the candidate against the stable arm over the same window.

    ``wait`` below ``min_requests`` on either arm; else ``rollback`` if any check fails,
    ``inconclusive`` if any is undecided or, at the last step, a required check has no data;
    ``wait`` if any is unresolved or, at the last step, a required check has too few samples;
    else ``advance`` (``promote`` at the last step).
    The checks are made and reported in every case; ``reasons`` names each check that failed,
    did not decide or could not be made, with its numbers.
    """
    t = CanaryThresholds() if thresholds is None else thresholds
    plan_steps = validate_steps(steps)
    if isinstance(step_index, bool) or not isinstance(step_index, int):
        raise InvalidArgument(f"step_index {step_index!r} is not an integer")
    if not 0 <= step_index < len(plan_steps):
        raise InvalidArgument(
            f"step_index {step_index} is outside the {len(plan_steps)} steps",
            hint=f"0 to {len(plan_steps) - 1}",
        )
    last = step_index == len(plan_steps) - 1

    checks = {
        "error_rate": _proportion_check(
            "error_rate",
            "error rate (5xx)",
            (stable.errors, stable.requests),
            (candidate.errors, candidate.requests),
            t.max_error_rate_increase,
            t.check_alpha,
            t.min_requests,
            "requests",
        ),
        "rejection_rate": _proportion_check(
            "rejection_rate",
            "rejection rate (4xx)",
            (stable.rejected, stable.requests),
            (candidate.rejected, candidate.requests),
            t.max_rejection_rate_increase,
            t.check_alpha,
            t.min_requests,
            "requests",
        ),
        "latency_p99": _latency_check(
            np.asarray(stable.latencies_ms), np.asarray(candidate.latencies_ms), t
        ),
        "prediction_shift": _shift_check(
            np.asarray(stable.prediction_counts), np.asarray(candidate.prediction_counts), t
        ),
        "agreement": _agreement_check(paired, t),
        "quality": _quality_check(stable, candidate, t),
    }
    reasons = [c.reason for c in checks.values() if c.reason is not None]
    statuses = {c.status for c in checks.values()}

    guard = []
    for arm, window in (("stable", stable), ("candidate", candidate)):
        if window.requests < t.min_requests:
            guard.append(
                f"not enough data: {window.requests} requests on the {arm} arm, "
                f"{t.min_requests} needed for a verdict"
            )
    missing = [n for n in REQUIRED if last and checks[n].status == "no_data"]
    short = [n for n in REQUIRED if last and checks[n].status == "too_few"]
    verdict: Verdict
    if guard:
        verdict, reasons = "wait", guard + reasons
    elif "fail" in statuses:
        verdict = "rollback"
        reasons = [c.reason for c in checks.values() if c.status == "fail" and c.reason] + [
            c.reason for c in checks.values() if c.status != "fail" and c.reason
        ]
    elif "undecided" in statuses or missing:
        verdict = "inconclusive"
        if missing:
            # more of the same data will not bring what was never given: a person decides
            reasons.insert(
                0,
                "the last step promotes only on every required check: no data for "
                f"{', '.join(missing)} (give it, or disable the check)",
            )
    elif "unresolved" in statuses or short:
        verdict = "wait"
        if short:
            reasons.insert(
                0,
                "the last step promotes only on every required check: too few samples for "
                f"{', '.join(short)} yet",
            )
    else:
        verdict = "promote" if last else "advance"
    return StepVerdict(
        verdict=verdict,
        step_index=step_index,
        percent=plan_steps[step_index],
        reasons=tuple(r for r in reasons if r),
        checks=checks,
    )


# -- the plan -------------------------------------------------------------------------------

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def validate_steps(steps: Sequence[float]) -> tuple[float, ...]:
    """The steps as floats, refused unless strictly increasing in (0, 100] and ending at 100."""
    values = tuple(steps)
    if not values:
        raise InvalidArgument("a canary needs at least one step", hint="e.g. 5,25,50,100")
    for value in values:
        if isinstance(value, bool) or not _is_number(value):
            raise InvalidArgument(f"step {value!r} is not a number", hint="percents: 5,25,50,100")
        if not 0 < value <= 100:
            raise InvalidArgument(
                f"step {value:g} is not a percent in (0, 100]",
                hint="the candidate's share of traffic at each step, e.g. 5,25,50,100",
            )
    for before, after in pairwise(values):
        if after <= before:
            raise InvalidArgument(
                f"steps must increase: {after:g} follows {before:g}",
                hint="e.g. 5,25,50,100",
            )
    if values[-1] != 100:
        raise InvalidArgument(
            f"the last step is {values[-1]:g}%, not 100%",
            hint="a canary ends with the candidate on all the traffic: add 100",
        )
    return tuple(float(v) for v in values)


def parse_steps(text: str) -> tuple[float, ...]:
    """``"5,25,50,100"``: the percents of traffic at each step."""
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise InvalidArgument("no canary steps given", hint="--steps 5,25,50,100")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise InvalidArgument(
                f"step {part!r} in {text!r} is not a number", hint="--steps 5,25,50,100"
            ) from None
        if not math.isfinite(value):
            raise InvalidArgument(f"step {part!r} in {text!r} is not a finite number")
        values.append(value)
    return validate_steps(values)


def parse_interval(text: str) -> float:
    """``"60s"``, ``"5m"``, ``"1h"``, ``"500ms"`` or plain seconds, as seconds (> 0)."""
    match = _DURATION.fullmatch(str(text))
    if match is None:
        raise InvalidArgument(
            f"interval {text!r} is not a duration", hint="e.g. 60s, 5m, 1h or 90 (seconds)"
        )
    seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if seconds <= 0:
        raise InvalidArgument(f"interval {text!r} is not positive", hint="e.g. 60s")
    return seconds


@dataclass(frozen=True)
class CanaryPlan:
    """What a canary does: the candidate's share at each step, for ``interval_seconds`` each,
    judged by ``thresholds`` against the stable arm."""

    candidate: str
    stable: str
    steps: tuple[float, ...]
    interval_seconds: float
    thresholds: CanaryThresholds = field(default_factory=CanaryThresholds)

    def __post_init__(self) -> None:
        candidate, stable = (
            _reference(self.candidate, "candidate"),
            _reference(self.stable, "stable"),
        )
        if candidate == stable:
            raise InvalidArgument(
                f"the candidate {self.candidate} is the stable arm",
                hint="a canary compares a new version with the one serving now",
            )
        object.__setattr__(self, "steps", validate_steps(self.steps))
        if not (_is_number(self.interval_seconds) and self.interval_seconds > 0):
            raise InvalidArgument(
                f"interval {self.interval_seconds!r} s is not a positive number", hint="e.g. 60"
            )
        if not isinstance(self.thresholds, CanaryThresholds):
            raise InvalidArgument("thresholds must be CanaryThresholds")

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "stable": self.stable,
            "steps": [finite(s) for s in self.steps],
            "interval_seconds": finite(self.interval_seconds),
            "thresholds": self.thresholds.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CanaryPlan:
        return cls(
            candidate=data["candidate"],
            stable=data["stable"],
            steps=tuple(float(s) for s in data["steps"]),
            interval_seconds=float(data["interval_seconds"]),
            thresholds=CanaryThresholds.from_dict(data.get("thresholds", {})),
        )


# -- the state machine ----------------------------------------------------------------------


@dataclass(frozen=True)
class CanaryState:
    """Where a canary is: the step it is on and whether it runs, waits for a person or ended."""

    step_index: int = 0
    status: Status = "running"

    def __post_init__(self) -> None:
        if self.status not in ("running", "paused", "rolled_back", "promoted", "aborted"):
            raise InvalidArgument(
                f"canary status {self.status!r} is unknown",
                hint="running, paused, rolled_back, promoted or aborted",
            )
        if isinstance(self.step_index, bool) or not isinstance(self.step_index, int):
            raise InvalidArgument(f"step_index {self.step_index!r} is not an integer")
        if self.step_index < 0:
            raise InvalidArgument(f"step_index {self.step_index} is negative")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CanaryState:
        return cls(step_index=data["step_index"], status=data["status"])

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def candidate_percent(self, steps: Sequence[float]) -> float:
        """The candidate's share of traffic in this state: 0 after a rollback or an abort."""
        if self.status in ("rolled_back", "aborted"):
            return 0.0
        if self.status == "promoted":
            return 100.0
        return float(steps[self.step_index])

    def to_dict(self) -> dict[str, Any]:
        return {"step_index": self.step_index, "status": self.status}


def next_state(state: CanaryState, verdict: Verdict, *, steps: int | None = None) -> CanaryState:
    """Where a step's verdict takes the canary.

    A finished canary (rolled back, promoted, aborted) never changes again. Running: advance
    moves to the next step, promote ends promoted, rollback ends rolled back (the candidate's
    weight back to 0), inconclusive pauses, wait stays. Paused waits for a person (see
    :func:`apply_command`); only a rollback still ends it, since failing evidence needs no one.
    ``steps`` (the number of steps), when given, refuses an advance past the last step.
    """
    if verdict not in ("advance", "promote", "rollback", "wait", "inconclusive"):
        raise InvalidArgument(
            f"unknown verdict {verdict!r}", hint="advance, promote, rollback, wait, inconclusive"
        )
    if state.finished:
        return state
    if verdict == "rollback":
        return CanaryState(state.step_index, "rolled_back")
    if state.status == "paused":
        return state
    if verdict == "advance":
        if steps is not None and state.step_index + 1 >= steps:
            raise InvalidArgument(
                f"advance past the last of {steps} steps",
                hint="the verdict at the last step is promote",
            )
        return CanaryState(state.step_index + 1, "running")
    if verdict == "promote":
        return CanaryState(state.step_index, "promoted")
    if verdict == "inconclusive":
        return CanaryState(state.step_index, "paused")
    return state


def apply_command(state: CanaryState, command: Command) -> CanaryState:
    """A person's ``canary pause|resume|abort|promote``; a finished canary refuses them all."""
    if state.finished:
        raise ConflictError(
            f"the canary is already {state.status.replace('_', ' ')}",
            hint="start a new canary to try again",
        )
    if command == "pause":
        return CanaryState(state.step_index, "paused")
    if command == "resume":
        return CanaryState(state.step_index, "running")
    if command == "abort":
        return CanaryState(state.step_index, "aborted")
    if command == "promote":
        return CanaryState(state.step_index, "promoted")
    raise InvalidArgument(f"unknown command {command!r}", hint="pause, resume, abort, promote")


# -- input checks ---------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _count(value: object, what: str, at_most: tuple[int, str] | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidArgument(f"{what} {value!r} is not a whole number")
    if value < 0:
        raise InvalidArgument(f"{what} {value} is negative")
    if at_most is not None and value > at_most[0]:
        raise InvalidArgument(f"{what} {value} exceed {at_most[1]} {at_most[0]}")


def _array(values: ArrayLike, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} are not numbers") from None
    if array.ndim != 1:
        raise InvalidArgument(f"{what} must be a 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidArgument(f"{what} contain NaN or infinite values")
    array.setflags(write=False)
    return array


def _reference(text: str, what: str) -> str:
    try:
        return str(parse(text))
    except InvalidReference as exc:
        raise InvalidArgument(f"{what} {text!r}: {exc.message}", hint=exc.hint) from None
