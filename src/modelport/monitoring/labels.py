"""The feedback check: do the ground-truth labels look poisoned?

Feedback is authenticated (the ``feedback`` role) and rate-limited per key, but a key holder can
still send wrong labels, and a model retrained on them learns what the sender wants. Honest labels
move only as far as the inputs do, so :func:`check_labels` asks, for the labelled rows of a
period, three questions of a classifier:

* **Label shift beyond drift.** The label distribution the predictions imply is built twice: with
  no drift it is the training prior (the class frequencies of the training labels, stored in the
  reference profile since labels can be given at registration; otherwise the training
  predictions' frequencies stand in), and with the drift seen it is the mean of the logged class
  probabilities of these rows (a calibrated model's own expectation under input drift) or,
  without probabilities, the prior reweighted class by class by how far the predictions moved
  (``prior x current / reference`` prediction share). Honest labels lie near the segment
  between the two (near its start when the model is sharper than the truth and the labels move
  less far than the predictions, near its end when it is calibrated). ``excess_psi`` is the PSI
  of the labels against the nearest point of that segment: it flags when it reaches
  ``shift_psi`` *and* a chi-square goodness-of-fit test (k - 1 degrees of freedom; the fitted
  point makes that conservative) against that point is significant. Labels that move the other
  way, further, or to other classes than the predictions are caught; a shift the predictions
  share is not. ``label_psi`` (labels against the prior) and ``prediction_psi`` (these rows'
  predictions against the training predictions) are reported beside it.
* **Disagreement beyond the model's own expectation.** With probabilities, a row's chance of a
  label other than its prediction is ``1 - p(predicted class)``; their sum is the expected number
  of disagreements. The observed number is tested one-sided against it (normal approximation of
  the Poisson-binomial; with honest labels the true variance is at most this, so the test is
  conservative) and flags when significant and at least ``disagreement_margin`` above the
  expected share: an overconfident model misses its expectation by a few points, flipped labels
  by tens.
* **One source against the others.** When feedback records carry their source (the key id or
  token subject that sent them), each source with at least ``min_source_labels`` labels is tested
  against all other labelled rows: a one-sided pooled two-proportion z-test that its disagreement
  share is higher, flagging when significant and at least ``source_margin`` higher. Rows without
  a source count among the others but are not tested.

Every test run is Bonferroni-corrected together (each at ``alpha / tests``; the reported p-values
are the adjusted ones), so noise alone flags a window of honest labels with probability at most
about ``alpha`` (0.5%; the normal approximations are slightly liberal at small counts, hence the
continuity corrections), and the effect margins keep it lower: ``tests/monitoring/test_labels.py``
measures 0% to 0.6% by simulation (bound asserted: 1%) with honest labels, 60 to 300 rows, with
and without input drift, with and without probabilities. Fewer than ``min_labels`` labels:
``no_data``. Regressors get no check (the questions are about classes).

Not caught, by design: labels pushed back towards the prior while the inputs drift away (they
lie on the tolerated segment), and a poisoner who owns every source of a period (the source test
compares senders; the shift and disagreement tests still apply).

JSON (:meth:`LabelCheck.to_dict`; floats finite or null)::

    {"status": "ok" | "suspicious" | "no_data",
     "reason": "labels disagree with the predictions on 41% of 900 rows; ...",
     "findings": ["disagreement", "source"],          # label_shift | disagreement | source
     "count": 900, "prior_from": "labels" | "predictions" | null,
     "labels": {"0": 0.52, "1": 0.48},                 # share per class (keys as in the profile)
     "prior": {"0": 0.5, "1": 0.5} | null, "expected": {...} | null,
     "label_psi": 0.01 | null, "prediction_psi": 0.0 | null,
     "excess_psi": 0.01 | null, "shift_p_value": 1.0 | null,
     "disagreement": 0.41 | null, "expected_disagreement": 0.12 | null,
     "disagreement_p_value": 1e-30 | null,
     "sources": [{"source": "key-3", "count": 300, "disagreement": 0.8, "others": 0.12,
                  "p_value": 1e-40, "suspicious": true}],
     "suspicious_sources": ["key-3"]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelport.errors import ConfigurationError
from modelport.monitoring._columns import category_key
from modelport.monitoring.numbers import finite_or_none
from modelport.monitoring.statistics import PSI_EPSILON, psi

# scipy is imported inside the functions that use it: a server imports this module on
# its start path, and scipy costs it ~0.3 s and ~30 MB for statistics it runs once per
# monitoring or canary poll, never per request.

Status = Literal["ok", "suspicious", "no_data"]
Finding = Literal["label_shift", "disagreement", "source"]

#: points tried along the no-drift -> drift segment for the nearest expected distribution
_SEGMENT_POINTS = 101


@dataclass(frozen=True)
class LabelCheckConfig:
    """Significance and the smallest departures worth a flag (see the module docstring).

    The margins sit between honest noise and poisoning: PSI 0.1 is a 16-point move of a 50/50
    split (a 0.5 -> 0.66 shift), while the noise of 100 honest labels is PSI ~0.01; a
    disagreement 10 points above the model's expectation is more than the overconfidence of
    the common model families, while flipping a third of one source's labels adds ~20.
    """

    #: family-wise level over every test of a check (Bonferroni); at 1% the simulation measured
    #: up to 1% false alarms from the source test at ~70 labels a source (normal approximation)
    alpha: float = 0.005
    #: fewer labelled rows than this: no_data
    min_labels: int = 50
    #: smallest PSI of the labels beyond what the predictions explain
    shift_psi: float = 0.1
    #: smallest excess of the observed disagreement share over the expected one
    disagreement_margin: float = 0.1
    #: smallest excess of a source's disagreement share over the others'
    source_margin: float = 0.1
    #: sources with fewer labels are not tested on their own
    min_source_labels: int = 30

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.alpha < 1:
            problems.append(f"alpha must be in (0, 1), not {self.alpha!r}")
        for name in ("shift_psi", "disagreement_margin", "source_margin"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} must be >= 0, not {getattr(self, name)!r}")
        for name in ("min_labels", "min_source_labels"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 2:
                problems.append(f"{name} must be an integer >= 2, not {getattr(self, name)!r}")
        if problems:
            raise ConfigurationError(
                "invalid feedback check configuration: " + "; ".join(problems),
                hint="see modelport.monitoring.labels.LabelCheckConfig for the defaults",
            )


@dataclass(frozen=True)
class SourceCheck:
    """One source's labels against everyone else's."""

    source: str
    count: int
    #: share of this source's labels that differ from the prediction
    disagreement: float
    #: the same share over all other labelled rows
    others: float
    #: one-sided, Bonferroni-adjusted
    p_value: float | None
    suspicious: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "count": self.count,
            "disagreement": finite_or_none(self.disagreement),
            "others": finite_or_none(self.others),
            "p_value": finite_or_none(self.p_value),
            "suspicious": self.suspicious,
        }


@dataclass(frozen=True)
class LabelCheck:
    """The verdict on one period's feedback; ``to_dict`` is the JSON in the module docstring."""

    status: Status
    reason: str
    count: int
    findings: tuple[Finding, ...] = ()
    #: "labels" (training labels), "predictions" (training predictions stand in) or None
    prior_from: str | None = None
    labels: dict[str, float] = field(default_factory=dict)
    prior: dict[str, float] | None = None
    #: the point of the no-drift -> drift segment nearest the labels
    expected: dict[str, float] | None = None
    label_psi: float | None = None
    prediction_psi: float | None = None
    excess_psi: float | None = None
    shift_p_value: float | None = None
    disagreement: float | None = None
    expected_disagreement: float | None = None
    disagreement_p_value: float | None = None
    sources: tuple[SourceCheck, ...] = ()

    @property
    def suspicious(self) -> bool:
        return self.status == "suspicious"

    @property
    def suspicious_sources(self) -> list[str]:
        return [s.source for s in self.sources if s.suspicious]

    def to_dict(self) -> dict[str, Any]:
        def shares(values: dict[str, float] | None) -> dict[str, float | None] | None:
            return None if values is None else {k: finite_or_none(v) for k, v in values.items()}

        return {
            "status": self.status,
            "reason": self.reason,
            "findings": list(self.findings),
            "count": self.count,
            "prior_from": self.prior_from,
            "labels": shares(self.labels),
            "prior": shares(self.prior),
            "expected": shares(self.expected),
            **{
                name: finite_or_none(getattr(self, name))
                for name in (
                    "label_psi",
                    "prediction_psi",
                    "excess_psi",
                    "shift_p_value",
                    "disagreement",
                    "expected_disagreement",
                    "disagreement_p_value",
                )
            },
            "sources": [s.to_dict() for s in self.sources],
            "suspicious_sources": self.suspicious_sources,
        }


def no_data(reason: str, count: int = 0) -> LabelCheck:
    return LabelCheck(status="no_data", reason=reason, count=count)


# -- the statistics, on counts and shares ---------------------------------------------------


def nearest_on_segment(
    shares: np.ndarray, start: np.ndarray | None, end: np.ndarray
) -> tuple[np.ndarray, float]:
    """The point of the segment ``start -> end`` with the smallest PSI to ``shares``, and it."""
    if start is None:
        return end, float(psi(end, shares))
    t = np.linspace(0.0, 1.0, _SEGMENT_POINTS)[:, None]
    points = (1 - t) * start + t * end
    values = psi(points, shares)
    best = int(np.argmin(values))
    return points[best], float(values[best])


def goodness_of_fit(counts: np.ndarray, expected_shares: np.ndarray) -> float:
    """Pearson chi-square p-value of ``counts`` against ``expected_shares`` (k - 1 df)."""
    from scipy import stats

    n = counts.sum()
    df = len(counts) - 1
    if n == 0 or df < 1:
        return 1.0
    expected = n * np.maximum(expected_shares, PSI_EPSILON)
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    return float(stats.chi2.sf(statistic, df))


def excess_disagreement(observed: float, expected: float, variance: float) -> float:
    """One-sided p-value that ``observed`` disagreements exceed their ``expected`` number."""
    from scipy import special

    if variance <= 0:
        return 0.0 if observed > expected + 0.5 else 1.0
    z = (observed - 0.5 - expected) / np.sqrt(variance)  # continuity-corrected
    return float(special.ndtr(-z))


def higher_share(
    x: np.ndarray, n: np.ndarray, x_other: np.ndarray, n_other: np.ndarray
) -> np.ndarray:
    """One-sided pooled two-proportion z-test p-values that x / n exceeds x_other / n_other."""
    from scipy import special

    x, n, x_other, n_other = (np.asarray(v, dtype=np.float64) for v in (x, n, x_other, n_other))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x + x_other) / (n + n_other)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / n_other))
        # continuity-corrected: small counts of rare disagreements are skewed upwards
        z = (x / n - x_other / n_other - 0.5 / n - 0.5 / n_other) / se
    return np.where(se > 0, special.ndtr(-z), 1.0)


# -- the check --------------------------------------------------------------------------------


def _distribution(counts: Mapping[str, float] | None, keys: list[str]) -> np.ndarray | None:
    if not counts:
        return None
    values = np.array([float(counts.get(key, 0.0)) for key in keys])
    total = values.sum()
    return values / total if total > 0 else None


def _encode(values: Sequence[Any] | np.ndarray, index: dict[str, int]) -> np.ndarray:
    """Class positions; -1 for a value that is not a class (or missing)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    lookup = np.array([index.get(category_key(u), -1) for u in uniques] + [-1], dtype=np.int64)
    return lookup[codes]  # the sentinel -1 picks the trailing -1: missing


def _probabilities(proba: Any, n: int, k: int) -> np.ndarray:
    """An (n, k) array; rows without (valid) probabilities are NaN."""
    out = np.full((n, k), np.nan)
    if proba is None:
        return out
    if isinstance(proba, np.ndarray) and proba.ndim == 2 and proba.shape == (n, k):
        out[:] = proba
    else:
        for i, row in enumerate(proba):
            if row is not None and np.ndim(row) == 1 and len(row) == k:
                out[i] = np.asarray(row, dtype=np.float64)
    bad = ~np.isfinite(out).all(axis=1) | (out < 0).any(axis=1)
    out[bad] = np.nan
    return out


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%" if value >= 0.01 else f"{100 * value:.2g}%"


def _moved(
    probabilities: np.ndarray,
    predicted: np.ndarray,
    base: np.ndarray | None,
    reference: np.ndarray | None,
) -> np.ndarray:
    """The label distribution the drift implies: row by row, the logged probabilities, else
    the base reweighted by how far these rows' predictions moved from the training ones."""
    k = probabilities.shape[1]
    scored = ~np.isnan(probabilities).any(axis=1)
    moved = probabilities[scored].sum(axis=0) if scored.any() else np.zeros(k)
    rest = ~scored & (predicted >= 0)
    m = int(rest.sum())
    if m:
        counts = np.bincount(predicted[rest], minlength=k).astype(np.float64)
        implied = counts
        if base is not None and reference is not None:
            floor = 0.5 / (m + 0.5 * k)  # smoothed: a class neither side predicts stays put
            implied = base * (counts + 0.5) / (m + 0.5 * k) / np.maximum(reference, floor)
        moved = moved + implied / implied.sum() * m
    total = moved.sum()
    return moved / total if total > 0 else np.full(k, 1.0 / k)


def _expected_disagreement(
    probabilities: np.ndarray, predicted: np.ndarray, disagree: np.ndarray
) -> tuple[int, float, float, float]:
    """Over the rows with probabilities: their number, the observed disagreements, and the
    expected number and variance of disagreements under the model's own probabilities."""
    rows = np.flatnonzero(~np.isnan(probabilities).any(axis=1))
    own = predicted[rows]
    picked = probabilities[rows, np.maximum(own, 0)]
    # a prediction that is not a class: the model's most likely class stands in
    picked = np.where(own >= 0, picked, probabilities[rows].max(axis=1))
    chance = np.clip(1.0 - picked, 0.0, 1.0)
    return (
        len(rows),
        float(disagree[rows].sum()),
        float(chance.sum()),
        float(np.sum(chance * (1 - chance))),
    )


def _by_source(
    origin: np.ndarray, disagree: np.ndarray, smallest: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The sources worth a test (enough labels, and enough from the others), their label
    counts and their disagreements."""
    n = len(disagree)
    codes, uniques = pd.factorize(pd.Series(origin, dtype=object), use_na_sentinel=True)
    names, sizes, wrong = [], [], []
    for code, value in sorted(enumerate(uniques), key=lambda item: str(item[1])):
        mine = codes == code
        count = int(mine.sum())
        if count >= smallest and n - count >= smallest:
            names.append(str(value))
            sizes.append(count)
            wrong.append(int(disagree[mine].sum()))
    return names, np.array(sizes, dtype=np.float64), np.array(wrong, dtype=np.float64)


def check_labels(
    labels: Sequence[Any] | np.ndarray,
    predictions: Sequence[Any] | np.ndarray,
    classes: Sequence[Any],
    *,
    proba: Any | None = None,
    prior: Mapping[str, float] | None = None,
    reference_predictions: Mapping[str, float] | None = None,
    sources: Sequence[str | None] | np.ndarray | None = None,
    config: LabelCheckConfig | None = None,
) -> LabelCheck:
    """Judge the labels of one period against the prior, the predictions and each other source.

    ``labels``, ``predictions``, ``proba`` (per row an array of class probabilities in the order
    of ``classes``, or None) and ``sources`` (per row who sent the label, or None) are aligned,
    one entry per labelled row. ``prior`` and ``reference_predictions`` are counts per class key
    (:func:`~._columns.category_key`, as the reference profile stores them): the training
    labels' and the training predictions'. Rows whose label is not a class are left out.

    >>> check_labels([0, 1] * 50, [0, 1] * 50, [0, 1], prior={"0": 50, "1": 50}).status
    'ok'
    """
    config = config or LabelCheckConfig()
    keys = [category_key(c) for c in classes]
    k = len(keys)
    if k < 2:
        return no_data("the feedback check needs a classifier with known classes")
    index = {key: i for i, key in enumerate(keys)}
    truth, predicted = _encode(labels, index), _encode(predictions, index)
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} labels for {len(predicted)} predictions")
    keep = truth >= 0
    n = int(keep.sum())
    if n < config.min_labels:
        return no_data(
            f"{n:,} labelled predictions: the feedback check needs {config.min_labels:,}", n
        )
    probabilities = _probabilities(proba, len(keep), k)[keep]
    truth, predicted = truth[keep], predicted[keep]
    disagree = truth != predicted

    label_counts = np.bincount(truth, minlength=k).astype(np.float64)
    label_shares = label_counts / n
    known = predicted >= 0
    prediction_shares = np.bincount(predicted[known], minlength=k) / max(int(known.sum()), 1)
    training = _distribution(prior, keys)
    reference = _distribution(reference_predictions, keys)
    base = training if training is not None else reference
    expected, excess = nearest_on_segment(
        label_shares, base, _moved(probabilities, predicted, base, reference)
    )
    label_psi = _psi_or_none(training, label_shares)
    prediction_psi = _psi_or_none(reference, prediction_shares)

    scored, wrong, chance, variance = _expected_disagreement(probabilities, predicted, disagree)
    tested = scored >= config.min_labels
    names: list[str] = []
    sizes = wrongs = np.empty(0)
    if sources is not None:
        origin = np.asarray(sources, dtype=object)[keep]
        names, sizes, wrongs = _by_source(origin, disagree, config.min_source_labels)
    tests = 1 + int(tested) + len(names)

    findings: list[Finding] = []
    reasons: list[str] = []
    shift_p = min(1.0, goodness_of_fit(label_counts, expected) * tests)
    if excess >= config.shift_psi and shift_p < config.alpha:
        findings.append("label_shift")
        against = "the prior" if training is not None else "the training predictions"
        reasons.append(
            f"the label distribution departs from what {against} and the predictions explain "
            f"by PSI {excess:.3g} (labels vs prior {_fmt(label_psi)}, predictions vs training "
            f"{_fmt(prediction_psi)}; p={shift_p:.2g})"
        )
    observed_rate = expected_rate = disagreement_p = None
    if tested:
        observed_rate, expected_rate = wrong / scored, chance / scored
        disagreement_p = min(1.0, excess_disagreement(wrong, chance, variance) * tests)
        if (
            disagreement_p < config.alpha
            and observed_rate - expected_rate >= config.disagreement_margin
        ):
            findings.append("disagreement")
            reasons.append(
                f"labels disagree with the predictions on {_percent(observed_rate)} of "
                f"{scored:,} rows where the model's probabilities expect "
                f"{_percent(expected_rate)} (p={disagreement_p:.2g})"
            )
    checks: list[SourceCheck] = []
    if names:
        others_wrong, others_size = float(disagree.sum()) - wrongs, n - sizes
        p_values = np.minimum(1.0, higher_share(wrongs, sizes, others_wrong, others_size) * tests)
        for i, name in enumerate(names):
            rate, others = wrongs[i] / sizes[i], others_wrong[i] / others_size[i]
            flagged = bool(p_values[i] < config.alpha and rate - others >= config.source_margin)
            checks.append(
                SourceCheck(name, int(sizes[i]), rate, others, float(p_values[i]), flagged)
            )
            if flagged:
                reasons.append(
                    f"source {name} disagrees with the predictions on {_percent(rate)} of its "
                    f"{int(sizes[i]):,} labels against {_percent(others)} for the others "
                    f"(p={p_values[i]:.2g})"
                )
        if any(c.suspicious for c in checks):
            findings.append("source")
    if not reasons:
        reasons.append(f"{n:,} labels in line with the predictions: excess PSI {excess:.3g}")
        if observed_rate is not None and expected_rate is not None:
            reasons[0] += (
                f", disagreement {_percent(observed_rate)} (expected {_percent(expected_rate)})"
            )
    return LabelCheck(
        status="suspicious" if findings else "ok",
        reason="; ".join(reasons),
        count=n,
        findings=tuple(findings),
        prior_from="labels" if training is not None else None if base is None else "predictions",
        labels=dict(zip(keys, label_shares.tolist(), strict=True)),
        prior=None if base is None else dict(zip(keys, base.tolist(), strict=True)),
        expected=dict(zip(keys, expected.tolist(), strict=True)),
        label_psi=label_psi,
        prediction_psi=prediction_psi,
        excess_psi=excess,
        shift_p_value=shift_p,
        disagreement=observed_rate,
        expected_disagreement=expected_rate,
        disagreement_p_value=disagreement_p,
        sources=tuple(checks),
    )


def _psi_or_none(reference: np.ndarray | None, shares: np.ndarray) -> float | None:
    return None if reference is None else float(psi(reference, shares))


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3g}"


__all__ = ["LabelCheck", "LabelCheckConfig", "SourceCheck", "check_labels"]
