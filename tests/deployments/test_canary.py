"""Canary analysis: rollbacks on injected regressions, no verdict on a handful of requests,
promotion of a good candidate through the state machine, and the tests' error rates checked
by simulation (fixed seeds, vectorised where the statistic allows)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from modelport.deployments.bounds import (
    clopper_pearson,
    increase_lower_bound,
    psi_counts,
    quantile_bounds,
)
from modelport.deployments.canary import (
    ArmWindow,
    CanaryThresholds,
    PairedWindow,
    Verdict,
    analyse_step,
)
from modelport.deployments.rollout import (
    CanaryPlan,
    CanaryState,
    Status,
    apply_command,
    next_state,
    parse_steps,
)
from modelport.errors import ConflictError, InvalidArgument
from modelport.monitoring import statistics
from modelport.services.canary import parse_interval

STEPS = (5.0, 25.0, 50.0, 100.0)
BINS = np.array([0.3, 0.25, 0.2, 0.15, 0.1])  # a classifier's share of predictions per class


def _window(
    rng: np.random.Generator,
    n: int,
    *,
    error_rate: float = 0.01,
    reject_rate: float = 0.02,
    latency_scale: float = 1.0,
    classes: np.ndarray = BINS,
    labels: int | None = None,
    accuracy: float = 0.9,
) -> ArmWindow:
    errors, rejected, _ = rng.multinomial(
        n, [error_rate, reject_rate, 1 - error_rate - reject_rate]
    )
    correct = None if labels is None else int(rng.binomial(labels, accuracy))
    return ArmWindow(
        requests=n,
        errors=int(errors),
        rejected=int(rejected),
        latencies_ms=latency_scale * rng.lognormal(np.log(20.0), 0.5, n),
        prediction_counts=rng.multinomial(n, classes),
        labelled=labels,
        correct=correct,
    )


def _json(verdict: object) -> str:
    # allow_nan=False: a NaN or an infinity anywhere in the result raises here
    return json.dumps(verdict, allow_nan=False)


# -- injected regressions -------------------------------------------------------------------


def test_an_error_rate_regression_rolls_back() -> None:
    rng = np.random.default_rng(1)
    stable = _window(rng, 2000)
    good = _window(rng, 2000)
    stable = ArmWindow(2000, 10, 40, stable.latencies_ms, stable.prediction_counts)  # 0.5%
    bad = ArmWindow(2000, 100, 40, good.latencies_ms, good.prediction_counts)  # 5%
    result = analyse_step(stable, bad, None, step_index=1, steps=STEPS)
    assert result.verdict == "rollback"
    check = result.checks["error_rate"]
    assert check.passed is False and check.value == pytest.approx(0.045)
    assert check.limit == 0.01
    assert result.reasons[0].startswith("error rate (5xx): candidate 5.00% (100 of 2000)")
    assert "significant" in result.reasons[0]
    # only the error rate failed: the rest of the candidate is as good as the stable arm
    assert [n for n, c in result.checks.items() if c.status == "fail"] == ["error_rate"]
    data = result.to_dict()
    _json(data)
    assert data["checks"]["error_rate"]["passed"] is False
    assert data["percent"] == 25.0


def test_a_latency_regression_rolls_back() -> None:
    rng = np.random.default_rng(2)
    stable = _window(rng, 2000)
    slow = _window(rng, 2000, latency_scale=2.0)  # every request twice as slow: p99 2x
    result = analyse_step(stable, slow, None, step_index=0, steps=STEPS)
    assert result.verdict == "rollback"
    check = result.checks["latency_p99"]
    assert check.status == "fail"
    assert check.value == pytest.approx(2.0, rel=0.15)
    lower, upper = check.details["candidate_lower_bound"], check.details["stable_upper_bound"]
    assert lower is not None and upper is not None and lower > upper
    assert any(r.startswith("p99 latency: candidate") for r in result.reasons)


def test_an_output_shift_rolls_back() -> None:
    rng = np.random.default_rng(3)
    stable = _window(rng, 2000)
    shifted = _window(rng, 2000, classes=np.array([0.1, 0.15, 0.2, 0.25, 0.3]))
    result = analyse_step(stable, shifted, None, step_index=2, steps=STEPS)
    assert result.verdict == "rollback"
    check = result.checks["prediction_shift"]
    assert check.status == "fail" and check.value is not None and check.value > 0.2
    # the same PSI as the monitoring layer's, which deployments cannot import
    s = np.asarray(stable.prediction_counts, dtype=float)
    c = np.asarray(shifted.prediction_counts, dtype=float)
    assert check.value == pytest.approx(float(statistics.psi(s / s.sum(), c / c.sum())))
    assert any("PSI" in r for r in result.reasons)


def test_psi_matches_the_monitoring_formula_with_empty_bins() -> None:
    s, c = np.array([100, 0, 50, 850]), np.array([0, 30, 70, 900])
    expected = statistics.psi(s / s.sum(), c / c.sum())
    assert psi_counts(s, c) == pytest.approx(float(expected))
    assert math.isfinite(psi_counts(s, c))


def test_a_quality_drop_on_labels_rolls_back_and_no_labels_are_not_a_check() -> None:
    rng = np.random.default_rng(4)
    stable = _window(rng, 3000, labels=1000, accuracy=0.9)
    worse = _window(rng, 3000, labels=1000, accuracy=0.8)
    result = analyse_step(stable, worse, None, step_index=0, steps=STEPS)
    assert result.verdict == "rollback"
    assert result.checks["quality"].status == "fail"
    unlabelled = _window(rng, 3000)
    result = analyse_step(stable, unlabelled, None, step_index=0, steps=STEPS)
    assert result.checks["quality"].status == "no_data"
    assert result.verdict == "advance"


# -- the minimum-sample guard ---------------------------------------------------------------


def test_no_verdict_below_the_minimum_sample() -> None:
    rng = np.random.default_rng(5)
    stable, candidate = _window(rng, 5000), _window(rng, 60)
    result = analyse_step(stable, candidate, None, step_index=0, steps=STEPS)
    assert result.verdict == "wait"
    assert result.reasons[0] == (
        "not enough data: 60 requests on the candidate arm, 100 needed for a verdict"
    )


def test_a_lone_5xx_in_ten_requests_is_not_a_rollback() -> None:
    stable = ArmWindow(requests=2000, errors=20)
    candidate = ArmWindow(requests=10, errors=1)  # a "10% error rate"
    result = analyse_step(stable, candidate, None, step_index=0, steps=STEPS)
    assert result.verdict == "wait"
    # even with the guard lowered to 10 requests, one 5xx is not evidence of a regression
    lowered = CanaryThresholds(min_requests=10)
    result = analyse_step(stable, candidate, None, lowered, step_index=0, steps=STEPS)
    assert result.verdict == "wait"
    check = result.checks["error_rate"]
    assert check.status == "unresolved" and check.passed is None
    assert check.value == pytest.approx(0.09)
    assert "not significant" in (check.reason or "")
    assert "could not confirm even an increase of +1.00 points" in (check.reason or "")


def test_an_excess_a_small_window_cannot_confirm_waits_for_more_data() -> None:
    stable = ArmWindow(requests=1900, errors=19)  # 1%
    candidate = ArmWindow(requests=100, errors=3)  # 3%: 2 points up, on 100 requests
    result = analyse_step(stable, candidate, None, step_index=0, steps=STEPS)
    assert result.checks["error_rate"].status == "unresolved"
    assert result.verdict == "wait"
    # twenty times the data at the same rates confirms it
    stable, candidate = ArmWindow(requests=38_000, errors=380), ArmWindow(2000, errors=60)
    result = analyse_step(stable, candidate, None, step_index=0, steps=STEPS)
    assert result.checks["error_rate"].status == "fail"
    assert result.verdict == "rollback"


def test_zero_requests_on_either_arm_is_wait_with_json_safe_numbers() -> None:
    empty = ArmWindow(requests=0, prediction_counts=[0, 0, 0])
    busy = ArmWindow(requests=500, errors=5, prediction_counts=[100, 200, 200])
    for stable, candidate in ((empty, busy), (busy, empty), (empty, empty)):
        result = analyse_step(stable, candidate, PairedWindow(0, 0), step_index=3, steps=STEPS)
        assert result.verdict == "wait"
        _json(result.to_dict())


def test_agreement_rolls_back_only_with_enough_pairs() -> None:
    rng = np.random.default_rng(6)
    stable, candidate = _window(rng, 2000), _window(rng, 2000)
    enough = analyse_step(stable, candidate, PairedWindow(500, 400), step_index=0, steps=STEPS)
    assert enough.verdict == "rollback"
    assert enough.checks["agreement"].status == "fail"
    assert enough.checks["agreement"].value == pytest.approx(0.8)
    few = analyse_step(stable, candidate, PairedWindow(40, 32), step_index=0, steps=STEPS)
    assert few.checks["agreement"].status == "too_few"
    assert few.verdict == "advance"
    assert "agreement not checked: 40 paired requests, 100 needed" in few.reasons
    # just below the limit on 100 pairs: not evidence, so a pause rather than a rollback
    near = analyse_step(stable, candidate, PairedWindow(100, 88), step_index=0, steps=STEPS)
    assert near.checks["agreement"].status == "undecided"
    assert near.verdict == "inconclusive"


def test_the_last_step_does_not_promote_on_a_check_it_could_not_make() -> None:
    stable = ArmWindow(requests=2000, errors=20, prediction_counts=[1000, 1000])
    candidate = ArmWindow(requests=2000, errors=20, prediction_counts=[1000, 1000])
    result = analyse_step(stable, candidate, None, step_index=3, steps=STEPS)
    # no latencies at all: waiting will not bring them, a person decides
    assert result.checks["latency_p99"].status == "no_data"
    assert result.verdict == "inconclusive"
    assert "no data for latency_p99" in result.reasons[0]
    # some latencies, too few: more data decides
    few = ArmWindow(2000, 20, latencies_ms=np.full(300, 20.0), prediction_counts=[1000, 1000])
    result = analyse_step(few, few, None, step_index=3, steps=STEPS)
    assert result.checks["latency_p99"].status == "too_few"
    assert result.verdict == "wait"
    assert "too few samples for latency_p99" in result.reasons[0]
    # the same windows advance at an earlier step, and disabling the check lets it promote
    assert analyse_step(stable, candidate, None, step_index=2, steps=STEPS).verdict == "advance"
    off = CanaryThresholds(max_p99_ratio=None)
    assert analyse_step(stable, candidate, None, off, step_index=3, steps=STEPS).verdict == (
        "promote"
    )


def test_a_closed_stable_window_pauses_instead_of_waiting_forever() -> None:
    # at 100% the stable arm serves nothing: its last window (too small for a p99 bound)
    # stands in and cannot grow, so a candidate p99 beyond the limit is for a person to judge
    rng = np.random.default_rng(11)
    latencies = rng.lognormal(np.log(1.0), 0.2, 60)
    stable = ArmWindow(60, latencies_ms=latencies, prediction_counts=[30, 30], closed=True)
    slow = ArmWindow(600, latencies_ms=np.full(600, 14.0), prediction_counts=[300, 300])
    t = CanaryThresholds(min_requests=30, min_latency_samples=30, min_predictions=30)
    result = analyse_step(stable, slow, None, t, step_index=3, steps=STEPS)
    assert result.checks["latency_p99"].status == "unresolved"
    assert result.verdict == "inconclusive"
    assert "window is closed" in result.reasons[0]
    # while the candidate has had less data than the stable arm, more of it may still decide
    young = ArmWindow(40, latencies_ms=np.full(40, 14.0), prediction_counts=[20, 20])
    assert analyse_step(stable, young, None, t, step_index=3, steps=STEPS).verdict == "wait"
    # and an open window of the same size waits for more data
    opened = replace(stable, closed=False)
    assert analyse_step(opened, slow, None, t, step_index=3, steps=STEPS).verdict == "wait"


# -- a good candidate through the state machine ----------------------------------------------


def test_a_good_candidate_advances_through_every_step_to_promoted() -> None:
    rng = np.random.default_rng(7)
    plan = CanaryPlan("credit-risk:3", "credit-risk@production", parse_steps("5,25,50,100"), 60)
    state, verdicts = CanaryState(), []
    total = 40_000  # requests per interval over both arms
    while not state.finished:
        share = plan.steps[state.step_index] / 100
        # at 100% the stable arm's window comes from shadow copies of the traffic
        stable_n = int(total * (1 - share)) if share < 1 else total // 2
        stable, candidate = _window(rng, stable_n), _window(rng, int(total * share))
        result = analyse_step(
            stable,
            candidate,
            PairedWindow(1000, 975),
            plan.thresholds,
            step_index=state.step_index,
            steps=plan.steps,
        )
        assert all(c.status in ("pass", "no_data") for c in result.checks.values())
        verdicts.append(result.verdict)
        state = next_state(state, result.verdict, steps=len(plan.steps))
    assert verdicts == ["advance", "advance", "advance", "promote"]
    assert state == CanaryState(3, "promoted")
    assert state.candidate_percent(plan.steps) == 100.0


def test_the_state_machine() -> None:
    running = CanaryState(1, "running")
    assert next_state(running, "advance") == CanaryState(2, "running")
    assert next_state(running, "wait") == running
    assert next_state(running, "inconclusive") == CanaryState(1, "paused")
    rolled = next_state(running, "rollback")
    assert rolled == CanaryState(1, "rolled_back")
    assert rolled.candidate_percent(STEPS) == 0.0
    assert running.candidate_percent(STEPS) == 25.0
    paused = CanaryState(1, "paused")
    waiting: tuple[Verdict, ...] = ("advance", "promote", "wait", "inconclusive")
    for verdict in waiting:
        assert next_state(paused, verdict) == paused  # a person decides
    assert next_state(paused, "rollback").status == "rolled_back"
    assert apply_command(paused, "resume") == running
    assert apply_command(running, "pause") == paused
    assert apply_command(running, "abort").candidate_percent(STEPS) == 0.0
    finished: Status
    for finished in ("rolled_back", "promoted", "aborted"):
        state = CanaryState(2, finished)
        for verdict in (*waiting, "rollback"):
            assert next_state(state, verdict) == state
        with pytest.raises(ConflictError, match="already"):
            apply_command(state, "resume")
    with pytest.raises(InvalidArgument, match="past the last"):
        next_state(CanaryState(3, "running"), "advance", steps=4)
    assert CanaryState.from_dict(json.loads(_json(paused.to_dict()))) == paused
    with pytest.raises(InvalidArgument, match="canary status 'done' is unknown"):
        CanaryState(0, "done")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="unknown verdict"):
        next_state(running, "go")  # type: ignore[arg-type]


# -- the statistics, by simulation ------------------------------------------------------------


#: only the error check on: it tests at the whole alpha, so its own level is what is measured
ERRORS_ONLY = CanaryThresholds(
    max_rejection_rate_increase=None,
    max_p99_ratio=None,
    max_psi=None,
    min_agreement=None,
    max_accuracy_drop=None,
)


def _error_verdicts(
    rng: np.random.Generator,
    sims: int,
    n: tuple[int, int],
    rates: tuple[float, float],
    t: CanaryThresholds,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every simulated window's flags, failed and beyond the limit but not confirmed (undecided
    or unresolved), by the rule of ``_proportion_check`` on the vectorised bound; and the
    counts, to replay a few through :func:`analyse_step`."""
    xs, xc = rng.binomial(n[0], rates[0], sims), rng.binomial(n[1], rates[1], sims)
    difference, bound = increase_lower_bound(xs, n[0], xc, n[1], t.check_alpha)
    assert t.max_error_rate_increase is not None
    beyond = difference > t.max_error_rate_increase
    return beyond & (bound > 0), beyond & (bound <= 0), xs, xc


def _replayed(xs: int, xc: int, n: tuple[int, int], t: CanaryThresholds) -> str:
    stable, candidate = ArmWindow(n[0], int(xs)), ArmWindow(n[1], int(xc))
    result = analyse_step(stable, candidate, None, t, step_index=0, steps=STEPS)
    return result.checks["error_rate"].status


@pytest.mark.parametrize(
    ("n", "t"),
    [
        # the defaults: six checks share alpha, and the 1-point tolerance alone rarely trips
        ((2000, 2000), CanaryThresholds()),
        # the test's own level: no tolerance, the whole alpha on this one check
        ((2000, 2000), replace(ERRORS_ONLY, max_error_rate_increase=0.0)),
        # a 5% step at the minimum sample: few events, where exact limits matter
        ((1900, 100), replace(ERRORS_ONLY, max_error_rate_increase=0.0)),
    ],
    ids=["defaults", "no-tolerance", "no-tolerance-small"],
)
def test_the_error_test_rarely_rolls_back_a_candidate_as_good_as_stable(
    n: tuple[int, int], t: CanaryThresholds
) -> None:
    """1,000 windows of a candidate with the stable arm's true error rate, 1%."""
    rng = np.random.default_rng(8)
    fail, unconfirmed, xs, xc = _error_verdicts(rng, 1000, n, (0.01, 0.01), t)
    print(f"false rollback share {fail.mean():.3f}, not confirmed {unconfirmed.mean():.3f}")
    assert fail.mean() <= 0.05
    # the scalar path agrees with the vectorised one
    for i in [*np.flatnonzero(fail)[:3], *np.flatnonzero(unconfirmed)[:3], 0, 1, 2]:
        expected = (
            {"fail"} if fail[i] else {"undecided", "unresolved"} if unconfirmed[i] else {"pass"}
        )
        assert _replayed(xs[i], xc[i], n, t) in expected


def test_the_error_test_finds_a_real_regression() -> None:
    rng = np.random.default_rng(9)
    fail, _, _, _ = _error_verdicts(rng, 1000, (2000, 2000), (0.01, 0.03), CanaryThresholds())
    print(f"rollback share on 1% against 3%: {fail.mean():.3f}")
    assert fail.mean() >= 0.9


def test_a_good_candidate_is_rarely_rolled_back_by_any_check() -> None:
    """The whole analysis, every check at once, on 300 windows of a candidate as good as
    stable (same error, rejection, latency, prediction and accuracy distributions)."""
    rng = np.random.default_rng(10)
    verdicts = [
        analyse_step(
            _window(rng, 2000, labels=500),
            _window(rng, 2000, labels=500),
            PairedWindow(500, int(rng.binomial(500, 0.97))),
            step_index=1,
            steps=STEPS,
        ).verdict
        for _ in range(300)
    ]
    shares = {v: verdicts.count(v) / len(verdicts) for v in ("rollback", "inconclusive")}
    print(f"whole analysis, good candidate: {shares}")
    assert shares["rollback"] <= 0.05
    assert verdicts.count("advance") / len(verdicts) >= 0.8


def test_clopper_pearson_limits() -> None:
    lower, upper = clopper_pearson([0, 1, 10], [10, 10, 10], 0.05)
    assert upper[0] == pytest.approx(1 - 0.05 ** (1 / 10))  # the rule of three, exactly
    assert lower[1] == pytest.approx(1 - 0.95 ** (1 / 10))
    assert lower[0] == 0.0 and upper[2] == 1.0


def test_quantile_bounds_cover_the_true_p99() -> None:
    rng = np.random.default_rng(11)
    q = math.exp(math.log(20.0) + 0.5 * 2.3263478740408408)  # the lognormal's true p99
    bounds = [
        quantile_bounds(rng.lognormal(np.log(20.0), 0.5, 1000), 0.99, 0.05) for _ in range(1000)
    ]
    lower_misses = np.mean([lo is not None and lo > q for lo, _ in bounds])
    upper_misses = np.mean([up is not None and up < q for _, up in bounds])
    assert lower_misses <= 0.05 and upper_misses <= 0.05
    assert quantile_bounds(np.arange(300.0), 0.99, 0.05)[1] is not None  # 299 values suffice
    assert quantile_bounds(np.arange(298.0), 0.99, 0.05)[1] is None


# -- plans and inputs -----------------------------------------------------------------------


def test_steps_and_intervals_parse() -> None:
    assert parse_steps("5,25,50,100") == (5.0, 25.0, 50.0, 100.0)
    assert parse_steps(" 100 ") == (100.0,)
    assert parse_steps("2.5, 10, 100") == (2.5, 10.0, 100.0)
    assert parse_interval("60s") == 60.0
    assert parse_interval("5min") == 300.0
    with pytest.raises(InvalidArgument, match="no unit"):  # a unit is required everywhere
        parse_interval("90")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("50,25,100", "steps must increase: 25 follows 50"),
        ("5,25,25,100", "steps must increase: 25 follows 25"),
        ("5,25", "the last step is 25%, not 100%"),
        ("0,100", "step 0 is not a percent in"),
        ("5,150", "step 150 is not a percent in"),
        ("a,b", "step 'a' in 'a,b' is not a number"),
        ("5,,100", "step '' in '5,,100' is not a number"),
        ("nan,100", "is not a finite number"),
        ("", "no canary steps given"),
    ],
)
def test_bad_steps_are_named(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_steps(text)


def test_bad_plans_are_named() -> None:
    with pytest.raises(InvalidArgument, match="is the stable arm"):
        CanaryPlan("credit-risk:3", "credit-risk:3", STEPS, 60)
    with pytest.raises(InvalidArgument, match="interval 0"):
        CanaryPlan("credit-risk:3", "credit-risk@production", STEPS, 0)
    with pytest.raises(InvalidArgument, match="candidate 'bad ref'"):
        CanaryPlan("bad ref", "credit-risk@production", STEPS, 60)
    with pytest.raises(InvalidArgument, match="steps must increase"):
        CanaryPlan("credit-risk:3", "credit-risk@production", (50, 25, 100), 60)
    with pytest.raises(InvalidArgument, match="not a duration"):
        parse_interval("soon")
    plan = CanaryPlan("credit-risk:3", "credit-risk@production", STEPS, 60)
    assert CanaryPlan.from_dict(json.loads(_json(plan.to_dict()))) == plan


def test_bad_thresholds_and_windows_are_named() -> None:
    with pytest.raises(InvalidArgument, match="max_error_rate_increase 2"):
        CanaryThresholds(max_error_rate_increase=2)
    with pytest.raises(InvalidArgument, match=r"max_p99_ratio 0\.5"):
        CanaryThresholds(max_p99_ratio=0.5)
    with pytest.raises(InvalidArgument, match="min_requests 0"):
        CanaryThresholds(min_requests=0)
    with pytest.raises(InvalidArgument, match="unknown canary thresholds: max_cpu"):
        CanaryThresholds.from_dict({"max_cpu": 1})
    t = CanaryThresholds(max_psi=0.1, min_pairs=50)
    assert CanaryThresholds.from_dict(json.loads(_json(t.to_dict()))) == t
    with pytest.raises(InvalidArgument, match="errors 11 exceed requests 10"):
        ArmWindow(10, errors=11)
    with pytest.raises(InvalidArgument, match="plus rejected"):
        ArmWindow(10, errors=6, rejected=6)
    with pytest.raises(InvalidArgument, match="labelled and correct go together"):
        ArmWindow(10, labelled=5)
    with pytest.raises(InvalidArgument, match="negative durations"):
        ArmWindow(10, latencies_ms=[1.0, -2.0])
    with pytest.raises(InvalidArgument, match="agreeing 5 exceed pairs 4"):
        PairedWindow(4, 5)
    with pytest.raises(InvalidArgument, match="2 bins on the stable arm and 3"):
        analyse_step(
            ArmWindow(200, prediction_counts=[100, 100]),
            ArmWindow(200, prediction_counts=[100, 50, 50]),
            None,
            step_index=0,
            steps=STEPS,
        )
    with pytest.raises(InvalidArgument, match="step_index 4 is outside the 4 steps"):
        analyse_step(ArmWindow(200), ArmWindow(200), None, step_index=4, steps=STEPS)


def test_a_disabled_check_is_reported_as_disabled() -> None:
    t = CanaryThresholds(max_error_rate_increase=None)
    result = analyse_step(
        ArmWindow(2000, 10), ArmWindow(2000, 300), None, t, step_index=0, steps=STEPS
    )
    assert result.checks["error_rate"].status == "disabled"
    assert result.verdict == "advance"


#: every check off: each test below turns one back on, which then tests at the whole alpha
NONE = CanaryThresholds(
    max_error_rate_increase=None,
    max_rejection_rate_increase=None,
    max_p99_ratio=None,
    max_psi=None,
    min_agreement=None,
    max_accuracy_drop=None,
)
ONLY = {
    name: replace(NONE, **{name: getattr(CanaryThresholds(), name)})
    for name in ("max_p99_ratio", "max_psi", "min_agreement", "max_accuracy_drop")
}


def _alone(rng: np.random.Generator, case: str) -> tuple[ArmWindow, ArmWindow, PairedWindow | None]:
    """One window of a candidate as good as stable for the one check of ``case``."""
    if case.startswith("latency"):
        sigma = 0.5 if case == "latency-light" else 1.0
        return (
            ArmWindow(2000, latencies_ms=rng.lognormal(3.0, sigma, 2000)),
            ArmWindow(2000, latencies_ms=rng.lognormal(3.0, sigma, 2000)),
            None,
        )
    if case.startswith("shift"):
        return (
            ArmWindow(2000, prediction_counts=rng.multinomial(2000, BINS)),
            ArmWindow(500, prediction_counts=rng.multinomial(500, BINS)),
            None,
        )
    stable = ArmWindow(2000, labelled=1000, correct=int(rng.binomial(1000, 0.9)))
    candidate = ArmWindow(2000, labelled=1000, correct=int(rng.binomial(1000, 0.9)))
    return stable, candidate, None


@pytest.mark.parametrize(
    ("case", "threshold"),
    [
        ("latency-light", ONLY["max_p99_ratio"]),
        ("latency-heavy", ONLY["max_p99_ratio"]),  # lognormal sigma 1: p99 ten times the p50
        # no margin: the limit at the stable arm's own value, so only the test decides
        ("latency-heavy-no-margin", replace(ONLY["max_p99_ratio"], max_p99_ratio=1.0)),
        ("shift", ONLY["max_psi"]),
        ("shift-no-margin", replace(ONLY["max_psi"], max_psi=1e-9)),
        ("quality-no-margin", replace(ONLY["max_accuracy_drop"], max_accuracy_drop=0.0)),
    ],
)
def test_each_check_alone_rarely_fails_a_good_candidate(
    case: str, threshold: CanaryThresholds
) -> None:
    """1,000 windows per check, the check alone so that it tests at the whole alpha."""
    assert threshold.check_alpha == threshold.alpha == 0.05
    rng = np.random.default_rng(12)
    name = {"latency": "latency_p99", "shift": "prediction_shift"}.get(
        case.split("-")[0], "quality"
    )
    statuses = [
        analyse_step(*_alone(rng, case), threshold, step_index=0, steps=STEPS).checks[name].status
        for _ in range(1000)
    ]
    share = statuses.count("fail") / len(statuses)
    print(f"{case}: false rollback share {share:.3f}")
    assert share <= 0.05
    if "no-margin" not in case:
        assert statuses.count("pass") >= 900  # within its limit, the usual case, passes


def test_agreement_exactly_at_its_limit_fails_at_most_alpha_of_the_time() -> None:
    """Exactly, not simulated: the chance over every count of agreeing pairs (true agreement
    90%, the limit itself, on 500 pairs) that the check fails, the check alone at alpha."""
    t = ONLY["min_agreement"]
    fails = [
        k
        for k in range(501)
        if analyse_step(
            ArmWindow(500), ArmWindow(500), PairedWindow(500, k), t, step_index=0, steps=STEPS
        )
        .checks["agreement"]
        .status
        == "fail"
    ]
    share = float(stats.binom.pmf(fails, 500, 0.9).sum())
    print(f"agreement at its limit: rollback probability {share:.4f}")
    assert 0.01 < share <= 0.05
    assert max(fails) < 440  # 88% of 500 pairs: below the limit, but not evidence


def test_any_window_gives_json_safe_numbers() -> None:
    """Random windows, zeros and tiny counts included: no NaN or infinity ever reaches
    to_dict, and every verdict is one of the five."""
    rng = np.random.default_rng(13)
    thresholds = (CanaryThresholds(), CanaryThresholds(min_requests=1, min_latency_samples=1))

    def window() -> ArmWindow:
        n = int(rng.choice([0, 1, 5, 150, 800]))
        errors = int(rng.integers(0, n + 1))
        rejected = int(rng.integers(0, n - errors + 1))
        labelled = int(rng.integers(0, n + 1))
        return ArmWindow(
            n,
            errors,
            rejected,
            latencies_ms=rng.choice([0.0, 5.0, 80.0], size=int(rng.integers(0, n + 1))),
            prediction_counts=rng.integers(0, 3, size=4) * int(rng.integers(0, 300)),
            labelled=labelled,
            correct=int(rng.integers(0, labelled + 1)),
        )

    for i in range(400):
        pairs = int(rng.integers(0, 300))
        result = analyse_step(
            window(),
            window(),
            PairedWindow(pairs, int(rng.integers(0, pairs + 1))),
            thresholds[i % 2],
            step_index=int(rng.integers(0, 4)),
            steps=STEPS,
        )
        assert result.verdict in ("advance", "promote", "rollback", "wait", "inconclusive")
        _json(result.to_dict())
