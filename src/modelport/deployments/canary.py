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

Why one module of this size: the six checks share one rule and one set of thresholds, and a
questioned verdict is read check by check against them; the bounds are in :mod:`.bounds`, the
plan and state machine in :mod:`.rollout`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from modelport.deployments.bounds import (
    clopper_pearson,
    homogeneity_p_value,
    increase_lower_bound,
    psi_counts,
    quantile_bounds,
)
from modelport.deployments.sequences import finite
from modelport.errors import InvalidArgument

# scipy is imported inside the functions that use it: a server imports this module on
# its start path, and scipy costs it ~0.3 s and ~30 MB for statistics it runs once per
# monitoring or canary poll, never per request.

Verdict = Literal["advance", "promote", "rollback", "wait", "inconclusive"]
CheckStatus = Literal["pass", "fail", "undecided", "unresolved", "too_few", "no_data", "disabled"]


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
            if value is not None and not (is_number(value) and 0 <= value < 1):
                raise InvalidArgument(
                    f"{name} {value!r} is not a share in [0, 1)", hint="e.g. 0.01 for 1 point"
                )
        if self.max_p99_ratio is not None and not (
            is_number(self.max_p99_ratio) and self.max_p99_ratio >= 1
        ):
            raise InvalidArgument(
                f"max_p99_ratio {self.max_p99_ratio!r} is not a number of at least 1",
                hint="e.g. 1.5: the candidate's p99 may be 1.5 times the stable arm's",
            )
        if self.max_psi is not None and not (is_number(self.max_psi) and self.max_psi > 0):
            raise InvalidArgument(f"max_psi {self.max_psi!r} is not a positive number", hint="0.2")
        if self.min_agreement is not None and not (
            is_number(self.min_agreement) and 0 < self.min_agreement <= 1
        ):
            raise InvalidArgument(
                f"min_agreement {self.min_agreement!r} is not a share in (0, 1]", hint="0.9"
            )
        if not (is_number(self.alpha) and 0 < self.alpha < 0.5):
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
    when there is none. ``closed``: the window will not grow (at the 100% step the stable arm
    serves nothing and its last real window stands in), so waiting for more of its data is
    waiting forever.
    """

    requests: int
    errors: int = 0
    rejected: int = 0
    latencies_ms: ArrayLike = ()
    prediction_counts: ArrayLike = ()
    labelled: int | None = None
    correct: int | None = None
    closed: bool = False

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
    from scipy import stats

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
        if stable.closed and candidate.requests >= stable.requests:
            # the candidate has had its share of data; what is missing is the stable arm's,
            # and a closed window never brings it: pause for a person instead of hanging
            verdict = "inconclusive"
            reasons.insert(
                0,
                f"the stable arm's window is closed ({stable.requests} requests from the step "
                "before, it serves nothing now) and too small to decide: promote or abort by "
                "hand, or give the step before 100% a longer interval",
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


# -- steps ----------------------------------------------------------------------------------


def validate_steps(steps: Sequence[float]) -> tuple[float, ...]:
    """The steps as floats, refused unless strictly increasing in (0, 100] and ending at 100."""
    values = tuple(steps)
    if not values:
        raise InvalidArgument("a canary needs at least one step", hint="e.g. 5,25,50,100")
    for value in values:
        if isinstance(value, bool) or not is_number(value):
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


# -- input checks ---------------------------------------------------------------------------


def is_number(value: object) -> bool:
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
