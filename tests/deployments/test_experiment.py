"""The A/B statistics, checked by simulation (fixed seeds, vectorised across experiments).

The simulations compute every look of every simulated experiment at once from cumulative sums,
through the same boundary functions the report uses; a few looks are recomputed through the
scalar functions to make sure the two paths agree.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import optimize, stats

from modelport.deployments.experiment import (
    MIN_SAMPLES,
    ArmData,
    benjamini_hochberg,
    experiment_report,
    latency_summary,
    srm_p_value,
)
from modelport.deployments.sequences import (
    TARGET_SAMPLES,
    difference_sequence,
    mean_sequence,
    mixture_p_value,
    mixture_radius,
    mixture_rho2,
)
from modelport.errors import InvalidArgument

ALPHA = 0.05
LOOKS = np.arange(100, 2001, 100)  # a look after every 100 labels per arm


def _prefix_moments(x: np.ndarray, looks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample variance of every prefix x[:, :n] for n in looks, shape (sims, looks)."""
    s = np.cumsum(x, axis=1, dtype=np.float64)[:, looks - 1]
    q = np.cumsum(np.square(x, dtype=np.float64), axis=1)[:, looks - 1]
    mean = s / looks
    var = (q - s * mean) / (looks - 1)
    return mean, var


def _difference_bounds(
    control: np.ndarray,
    candidate: np.ndarray,
    looks: np.ndarray,
    candidate_looks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference, lower and upper of the two-sample sequence at every look."""
    looks_b = looks if candidate_looks is None else candidate_looks
    mean_a, var_a = _prefix_moments(control, looks)
    mean_b, var_b = _prefix_moments(candidate, looks_b)
    se = np.sqrt(var_a / looks + var_b / looks_b)
    rho2 = mixture_rho2(2 * TARGET_SAMPLES, ALPHA)
    radius = mixture_radius(se, looks + looks_b, alpha=ALPHA, rho2=rho2)
    difference = mean_b - mean_a
    return difference, difference - radius, difference + radius


# -- simulations ----------------------------------------------------------------------------


def test_peeking_after_every_100_labels_keeps_false_winners_below_alpha() -> None:
    rng = np.random.default_rng(20260101)
    sims, n = 1000, int(LOOKS[-1])
    control = rng.random((sims, n)) < 0.80
    candidate = rng.random((sims, n)) < 0.80
    difference, lower, upper = _difference_bounds(control, candidate, LOOKS)

    ever_winner = np.any(lower > 0, axis=1).mean()
    ever_decided = np.any((lower > 0) | (upper < 0), axis=1).mean()
    assert ever_winner <= ALPHA
    assert ever_decided <= ALPHA  # two-sided: winners and losers together

    # The same data with a fixed-sample 95% interval read at every look: the error that the
    # sequence exists to avoid, so the simulation could have failed.
    mean_a, var_a = _prefix_moments(control, LOOKS)
    mean_b, var_b = _prefix_moments(candidate, LOOKS)
    z = (mean_b - mean_a) / np.sqrt((var_a + var_b) / LOOKS)
    naive = np.any(np.abs(z) > stats.norm.ppf(1 - ALPHA / 2), axis=1).mean()
    assert naive > 2 * ALPHA

    # the vectorised looks are the report's numbers
    for sim, look in [(0, 0), (17, 5), (999, len(LOOKS) - 1)]:
        k = int(LOOKS[look])
        scalar = difference_sequence(control[sim, :k], candidate[sim, :k])
        assert scalar.difference == pytest.approx(difference[sim, look], abs=1e-12)
        assert scalar.lower == pytest.approx(lower[sim, look], abs=1e-12)
        assert scalar.upper == pytest.approx(upper[sim, look], abs=1e-12)


def test_a_90_10_split_keeps_false_winners_below_alpha_too() -> None:
    # the variance sum at time n_a + n_b is exact only in the limit; check an uneven split
    rng = np.random.default_rng(90)
    candidate_looks = np.arange(100, 1001, 50)
    control_looks = 9 * candidate_looks
    control = rng.random((1000, int(control_looks[-1]))) < 0.80
    candidate = rng.random((1000, int(candidate_looks[-1]))) < 0.80
    _, lower, upper = _difference_bounds(control, candidate, control_looks, candidate_looks)
    assert np.any((lower > 0) | (upper < 0), axis=1).mean() <= ALPHA
    k_a, k_b = int(control_looks[4]), int(candidate_looks[4])
    scalar = difference_sequence(control[9, :k_a], candidate[9, :k_b])
    assert scalar.lower == pytest.approx(lower[9, 4], abs=1e-12)


def test_a_true_difference_of_two_accuracy_points_is_found() -> None:
    rng = np.random.default_rng(7)
    sims, n = 200, 20_000
    control = (rng.random((sims, n)) < 0.80).astype(np.float64)
    candidate = (rng.random((sims, n)) < 0.82).astype(np.float64)
    verdicts = [
        experiment_report(
            [ArmData("m@production", n, control[i]), ArmData("m:3", n, candidate[i])], [50, 50]
        ).verdict
        for i in range(sims)
    ]
    winners = verdicts.count("winner") / sims
    assert winners >= 0.9
    assert "loser" not in verdicts

    # the other way round the candidate is the loser
    swapped = experiment_report(
        [ArmData("m@production", n, candidate[0]), ArmData("m:3", n, control[0])], [50, 50]
    )
    assert swapped.verdict == "loser"


@pytest.mark.parametrize("distribution", ["bernoulli", "exponential"])
def test_one_arms_sequence_covers_the_mean_at_every_look(distribution: str) -> None:
    rng = np.random.default_rng(42)
    sims, n = 1000, int(LOOKS[-1])
    if distribution == "bernoulli":
        true_mean = 0.8
        x = (rng.random((sims, n)) < true_mean).astype(np.float64)
    else:  # unbounded and skewed: a latency-like metric
        true_mean = 30.0
        x = rng.exponential(true_mean, (sims, n))
    mean, var = _prefix_moments(x, LOOKS)
    radius = mixture_radius(
        np.sqrt(var / LOOKS), LOOKS, alpha=ALPHA, rho2=mixture_rho2(TARGET_SAMPLES, ALPHA)
    )
    covered = np.all(np.abs(mean - true_mean) <= radius, axis=1).mean()
    assert covered >= 1 - ALPHA

    scalar = mean_sequence(x[3, :700])
    assert scalar.lower == pytest.approx(mean[3, 6] - radius[3, 6], abs=1e-12)
    assert scalar.upper == pytest.approx(mean[3, 6] + radius[3, 6], abs=1e-12)


# -- the boundary ---------------------------------------------------------------------------


def test_rho_makes_the_sequence_narrowest_at_the_target() -> None:
    target = 5000
    rho2 = mixture_rho2(target, ALPHA)
    best = optimize.minimize_scalar(
        lambda r: float(mixture_radius(1.0, target, alpha=ALPHA, rho2=r)),
        bounds=(1e-7, 1e-1),
        method="bounded",
        options={"xatol": 1e-10},
    ).x
    assert rho2 == pytest.approx(best, rel=1e-3)
    # narrower at the target than a rho tuned for another size, wider than a fixed-n interval
    at_target = float(mixture_radius(1.0, target, alpha=ALPHA, rho2=rho2))
    other = float(mixture_radius(1.0, target, alpha=ALPHA, rho2=mixture_rho2(500, ALPHA)))
    assert at_target < other
    assert at_target > stats.norm.ppf(1 - ALPHA / 2)


def test_the_p_value_is_below_alpha_exactly_when_the_sequence_excludes_zero() -> None:
    rng = np.random.default_rng(3)
    estimate = rng.normal(0, 0.02, 5000)
    se = rng.uniform(0.002, 0.01, 5000)
    t = rng.integers(2, 50_000, 5000)
    rho2 = mixture_rho2(10_000, ALPHA)
    p = mixture_p_value(estimate, se, t, rho2=rho2)
    excludes = np.abs(estimate) > mixture_radius(se, t, alpha=ALPHA, rho2=rho2)
    assert 0 < excludes.mean() < 1
    np.testing.assert_array_equal(p < ALPHA, excludes)
    assert np.all((p >= 0) & (p <= 1))


def test_fewer_than_two_values_leave_the_sequence_unbounded() -> None:
    assert mean_sequence([]).to_dict()["mean"] is None
    one = mean_sequence([1.0])
    assert one.mean == 1.0 and one.lower is None and one.upper is None
    assert one.contains(123.0)
    d = difference_sequence([1.0], [0.0, 1.0])
    assert d.lower is None and d.p_value == 1.0 and not d.excludes_zero


# -- sample-ratio mismatch ------------------------------------------------------------------


def test_srm_flags_52_48_on_20000_requests_meant_as_50_50() -> None:
    flagged = experiment_report([ArmData("a", 10_400, []), ArmData("b", 9_600, [])], [50, 50])
    assert flagged.srm_p_value is not None and flagged.srm_p_value < 0.001
    assert flagged.verdict == "invalid"
    fine = experiment_report([ArmData("a", 10_060, []), ArmData("b", 9_940, [])], [50, 50])
    assert fine.srm_p_value is not None and fine.srm_p_value > 0.001
    assert fine.verdict == "inconclusive"


def test_srm_p_value_is_scipys_chisquare() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        k = int(rng.integers(2, 5))
        weights = rng.uniform(0.1, 10, k)
        counts = rng.multinomial(int(rng.integers(10, 100_000)), weights / weights.sum())
        expected = counts.sum() * weights / weights.sum()
        assert srm_p_value(counts, weights) == pytest.approx(
            stats.chisquare(counts, expected).pvalue, rel=1e-9, abs=1e-300
        )


def test_srm_with_arms_of_weight_zero_and_without_requests() -> None:
    assert srm_p_value([0, 0], [1, 1]) is None
    assert srm_p_value([100, 3], [1, 0]) == 0.0  # traffic to an arm meant to get none
    assert srm_p_value([100, 0, 90], [1, 0, 1]) == pytest.approx(stats.chisquare([100, 90]).pvalue)
    with pytest.raises(InvalidArgument, match="non-negative"):
        srm_p_value([100, -3], [1, 1])
    with pytest.raises(InvalidArgument, match="3 weights for 2 arms"):
        srm_p_value([100, 3], [1, 1, 1])


# -- several metrics ------------------------------------------------------------------------


def test_benjamini_hochberg_is_the_step_up_procedure() -> None:
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(adjusted, [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    p = np.random.default_rng(5).uniform(0, 0.2, 30)
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p))
    with pytest.raises(InvalidArgument, match=r"\[0, 1\]"):
        benjamini_hochberg([0.2, 1.5])


def test_several_metrics_split_alpha_and_report_bh_adjusted_p_values() -> None:
    rng = np.random.default_rng(9)
    n = 20_000
    control = ArmData(
        "a",
        n,
        (rng.random(n) < 0.80).astype(float),
        metrics={"log_loss": rng.normal(0.40, 0.1, n), "calibration": rng.normal(0, 1, n)},
    )
    candidate = ArmData(
        "b",
        n,
        (rng.random(n) < 0.82).astype(float),
        metrics={"log_loss": rng.normal(0.38, 0.1, n), "calibration": rng.normal(0, 1, n)},
    )
    report = experiment_report([control, candidate], [1, 1])
    assert report.difference_alpha == pytest.approx(ALPHA / 3)
    comparison = report.comparisons[0]
    p = [m.estimate.p_value for m in comparison.metrics]
    np.testing.assert_allclose(
        [m.adjusted_p_value for m in comparison.metrics], stats.false_discovery_control(p)
    )
    data = report.to_dict()
    assert data["confidence"]["differences"] == pytest.approx(1 - ALPHA / 3)
    by_name = {m["metric"]: m for m in data["comparisons"][0]["metrics"]}
    assert by_name["log_loss"]["significant"] and by_name["log_loss"]["difference"] < 0
    assert set(data["arms"][0]["metrics"]) == {"log_loss", "calibration"}
    # the split interval is wider than the single-metric one on the same data
    single = experiment_report(
        [ArmData("a", n, control.values), ArmData("b", n, candidate.values)], [1, 1]
    ).comparisons[0]
    wide, narrow = comparison.metrics[0].estimate, single.metrics[0].estimate
    assert wide.lower is not None and narrow.lower is not None and wide.lower < narrow.lower


# -- latency, verdicts, the report's form ---------------------------------------------------


def test_latency_guardrails_are_plain_quantiles_compared_to_the_control() -> None:
    rng = np.random.default_rng(1)
    fast, slow = rng.gamma(2, 10, 5000), rng.gamma(2, 15, 5000)
    summary = latency_summary(fast)
    assert summary.p50 == pytest.approx(np.quantile(fast, 0.5))
    assert summary.p99 == pytest.approx(np.quantile(fast, 0.99))
    report = experiment_report(
        [ArmData("a", 5000, [], fast), ArmData("b", 5000, [], slow)], [1, 1]
    ).to_dict()
    latency = report["comparisons"][0]["latency_ms"]
    assert latency["p99_ratio"] == pytest.approx(np.quantile(slow, 0.99) / np.quantile(fast, 0.99))
    assert latency["p50_delta"] == pytest.approx(np.median(slow) - np.median(fast))
    assert report["arms"][1]["latency_ms"]["p99"] == pytest.approx(np.quantile(slow, 0.99))


def test_no_verdict_below_the_minimum_sample_even_on_a_clear_difference() -> None:
    few = MIN_SAMPLES - 1
    report = experiment_report(
        [ArmData("a", few, np.r_[np.zeros(few - 1), 1.0]), ArmData("b", few, np.ones(few))],
        [1, 1],
    )
    assert report.comparisons[0].metrics[0].estimate.excludes_zero
    assert report.verdict == "inconclusive"
    assert (
        experiment_report(
            [ArmData("a", few, np.r_[np.zeros(few - 1), 1.0]), ArmData("b", few, np.ones(few))],
            [1, 1],
            min_samples=50,
        ).verdict
        == "winner"
    )


def test_lower_is_better_turns_the_verdict_round() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(1.0, 0.2, 5000), rng.normal(0.9, 0.2, 5000)
    arms = [ArmData("a", 5000, a), ArmData("b", 5000, b)]
    assert experiment_report(arms, [1, 1]).verdict == "loser"
    assert experiment_report(arms, [1, 1], higher_is_better=False).verdict == "winner"


def test_three_arms_name_the_best_winner_against_the_first_arm() -> None:
    rng = np.random.default_rng(4)
    n = 20_000
    arms = [
        ArmData("control", n, (rng.random(n) < 0.70).astype(float)),
        ArmData("good", n, (rng.random(n) < 0.75).astype(float)),
        ArmData("better", n, (rng.random(n) < 0.80).astype(float)),
    ]
    report = experiment_report(arms, [1, 1, 1])
    assert [c.candidate for c in report.comparisons] == ["good", "better"]
    assert report.difference_alpha == pytest.approx(ALPHA / 2)
    assert report.verdict == "winner" and report.winner == "better"
    assert report.to_dict()["control"] == "control"


def test_the_report_has_the_keys_outside_checks_read_and_is_strict_json() -> None:
    rng = np.random.default_rng(8)
    data = experiment_report(
        [
            ArmData("m@production", 900, (rng.random(800) < 0.8).astype(float), rng.random(900)),
            ArmData("m:3", 100, (rng.random(90) < 0.8).astype(float), rng.random(100)),
        ],
        [90, 10],
    ).to_dict()
    json.dumps(data, allow_nan=False)
    assert set(data) >= {"arms", "srm_p_value", "verdict"}
    arm = data["arms"][0]
    assert set(arm) >= {"ref", "requests", "labelled", "metric", "interval", "latency_ms"}
    assert set(arm["latency_ms"]) >= {"p50", "p99"}
    assert (arm["ref"], arm["requests"], arm["labelled"]) == ("m@production", 900, 800)
    assert arm["labelled_share"] == pytest.approx(800 / 900)
    assert data["arms"][1]["expected_share"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    "arms",
    [
        [ArmData("a", 0, []), ArmData("b", 0, [])],  # nothing yet
        [ArmData("a", 500, [], []), ArmData("b", 500, [], [])],  # traffic, no labels
        [ArmData("a", 10, [1.0], [5.0]), ArmData("b", 10, [1.0, 1.0], [5.0])],  # one value
        [ArmData("a", 200, np.ones(150)), ArmData("b", 200, np.ones(150))],  # no variance
    ],
)
def test_empty_and_degenerate_arms_are_inconclusive_without_nan(arms: list[ArmData]) -> None:
    report = experiment_report(arms, [1, 1])
    assert report.verdict == "inconclusive"
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text


# -- bad input ------------------------------------------------------------------------------


def _two() -> list[ArmData]:
    return [ArmData("a", 10, [1.0, 0.0]), ArmData("b", 10, [1.0, 1.0])]


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([50, -50], "non-negative"),
        ([50], "1 weights for 2 arms"),
        ([50, 30, 20], "3 weights for 2 arms"),
        ([0, 0], "sum to a positive number"),
        ([math.nan, 1], "finite"),
        (["x", 1], "not numbers"),
    ],
)
def test_bad_weights_are_named(weights: list[object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        experiment_report(_two(), weights)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        ([ArmData("a", 10, np.ones((2, 2))), ArmData("b", 10, [1.0])], r"a: values must be a 1-D"),
        ([ArmData("a", 10, [1.0]), ArmData("b", 10, [1.0, math.nan])], r"b: values contain 1 "),
        ([ArmData("a", 10, [1.0]), ArmData("b", 10, ["yes"])], r"b: values are not numbers"),
        ([ArmData("a", 10, [1.0]), ArmData("b", 10, [1.0], np.ones((3, 1)))], r"b: latencies"),
        ([ArmData("a", 10, [1.0], [-1.0]), ArmData("b", 10, [1.0])], r"a: latencies contain neg"),
        ([ArmData("a", 1, [1.0, 0.0]), ArmData("b", 10, [1.0])], r"2 labelled values but 1"),
        ([ArmData("a", -1, []), ArmData("b", 10, [])], r"negative"),
        ([ArmData("a", 10, []), ArmData("a", 10, [])], r"repeat a reference"),
        ([ArmData("a", 10, [])], r"at least two arms"),
        (
            [ArmData("a", 10, [], metrics={"x": [1.0]}), ArmData("b", 10, [])],
            r"arm 'b' has metrics \[\]",
        ),
    ],
)
def test_bad_arms_are_named(arms: list[ArmData], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        experiment_report(arms, [1] * len(arms))


@pytest.mark.parametrize(
    "options", [{"alpha": 0.0}, {"alpha": 1.5}, {"min_samples": 1}, {"target_samples": 0}]
)
def test_bad_options_are_named(options: dict[str, float]) -> None:
    with pytest.raises(InvalidArgument):
        experiment_report(_two(), [1, 1], **options)  # type: ignore[arg-type]


def test_a_sticky_split_is_tested_on_its_keys_not_its_requests() -> None:
    # 500 users, 3 requests each, 71 users on the 10% arm: 14% of requests, 3 sigma on users
    # but far past any bound if the 1,500 requests were independent draws
    rng = np.random.default_rng(0)
    control = ArmData("m:1", 1287, rng.integers(0, 2, 1287).astype(float), units=429)
    candidate = ArmData("m:2", 213, rng.integers(0, 2, 213).astype(float), units=71)
    by_keys = experiment_report([control, candidate], [90, 10]).to_dict()
    by_requests = experiment_report(
        [ArmData("m:1", 1287, control.values), ArmData("m:2", 213, candidate.values)], [90, 10]
    ).to_dict()
    assert by_requests["srm_p_value"] < 1e-3 < by_keys["srm_p_value"]
    assert by_keys["verdict"] != "invalid"
