"""The canary's windows: pairs of answers and their agreement, labels, the 100% step."""

from __future__ import annotations

import numpy as np
import pytest

from modelport.runtime.arm_windows import ArmWindows, agreeing

STABLE, CANDIDATE = "m:1", "m:2"


def opened() -> ArmWindows:
    windows = ArmWindows()
    windows.reset("d")  # a canary step began: the controller opens the window
    return windows


def answered(windows: ArmWindows, arm: str, n: int, status: int = 200) -> None:
    for _ in range(n):
        windows.observe("d", arm, status, 0.01)


def test_classes_agree_when_equal() -> None:
    a = np.array([0, 1, 1, 0])
    assert agreeing(a, np.array([0, 1, 0, 1]), classes=True) == 2
    assert agreeing(np.array(["yes", "no"]), np.array(["yes", "yes"]), classes=False) == 1
    # a classifier's float classes are compared exactly, not within a tolerance
    assert agreeing(np.array([1.0, 2.0]), np.array([1.0, 2.01]), classes=True) == 1


def test_numbers_agree_within_one_percent_or_a_millionth() -> None:
    primary = np.array([100.0, 100.0, 0.0, 1e-9, -50.0])
    shadow = np.array([100.9, 102.0, 5e-7, -1e-9, -50.4])
    assert agreeing(primary, shadow, classes=False) == 4  # only 100 vs 102 differ
    # symmetric: which arm answered first does not matter
    assert agreeing(shadow, primary, classes=False) == 4


def test_rows_of_several_outputs_agree_when_every_output_does() -> None:
    primary = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert agreeing(primary, np.array([[1.0, 2.0], [3.0, 5.0]]), classes=False) == 1
    assert agreeing(primary, np.array([1.0, 2.0]), classes=False) == 0  # shapes differ


def test_pairs_count_rows_both_ways_and_reset_with_the_step() -> None:
    windows = opened()
    answered(windows, STABLE, 3)
    answered(windows, CANDIDATE, 3)
    # the candidate shadows a stable answer, and the stable arm a candidate answer
    windows.observe_pair("d", STABLE, CANDIDATE, np.array([0, 1]), np.array([0, 0]), classes=True)
    windows.observe_pair("d", CANDIDATE, STABLE, np.array([1]), np.array([1]), classes=True)
    # pairs with a third version are not the canary's
    windows.observe_pair("d", STABLE, "m:3", np.array([1]), np.array([0]), classes=True)
    _, _, paired = windows.windows("d", STABLE, CANDIDATE)
    assert paired is not None and (paired.pairs, paired.agreeing) == (3, 2)
    windows.reset("d")
    assert windows.windows("d", STABLE, CANDIDATE)[2] is None


def test_at_100_percent_the_stable_shadow_gives_predictions_not_latencies() -> None:
    windows = opened()
    answered(windows, STABLE, 50)
    windows.observe_predictions("d", STABLE, np.zeros(50))
    windows.windows("d", STABLE, CANDIDATE)  # the judgement of the step before 100%
    windows.reset("d")
    answered(windows, STABLE, 2)  # strays before the server followed the new weights
    answered(windows, CANDIDATE, 80)
    windows.observe_predictions("d", CANDIDATE, np.ones(80))
    for _ in range(60):  # the stable arm as a shadow of candidate answers
        windows.observe_pair("d", CANDIDATE, STABLE, np.ones(1), np.ones(1), classes=False)
    stable, candidate, paired = windows.windows("d", STABLE, CANDIDATE, stable_answers=False)
    assert stable.closed and not candidate.closed
    # requests and latencies are the last window's, on the response path
    assert stable.requests == 50 and np.asarray(stable.latencies_ms).size == 50
    # the copies' predictions replace the last window's once they are no fewer
    assert np.asarray(stable.prediction_counts).sum() == 60
    assert paired is not None and (paired.pairs, paired.agreeing) == (60, 60)


def test_at_100_percent_too_few_copies_keep_the_last_windows_predictions() -> None:
    windows = opened()
    answered(windows, STABLE, 50)
    windows.observe_predictions("d", STABLE, np.zeros(50))
    windows.windows("d", STABLE, CANDIDATE)
    windows.reset("d")
    answered(windows, CANDIDATE, 10)
    windows.observe_predictions("d", CANDIDATE, np.ones(10))
    windows.observe_pair("d", CANDIDATE, STABLE, np.ones(10), np.ones(10), classes=False)
    stable, _, _ = windows.windows("d", STABLE, CANDIDATE, stable_answers=False)
    assert np.asarray(stable.prediction_counts).sum() == 50


def label_arm(windows: ArmWindows, arm: str, predicted: list[int], prefix: str) -> None:
    for i, value in enumerate(predicted):
        windows.observe("d", arm, 200, 0.01)
        windows.observe_predictions(
            "d", arm, np.array([value, 1 - value]), prediction_id=f"{prefix}{i}", classes=True
        )


def test_labels_count_per_request_on_the_arm_that_answered() -> None:
    windows = opened()
    label_arm(windows, STABLE, [1, 1, 0, 0], "s")
    label_arm(windows, CANDIDATE, [1, 0, 0], "c")
    # no label yet: the quality check has no data, not zero labels
    stable, candidate, _ = windows.windows("d", STABLE, CANDIDATE)
    assert stable.labelled is None and candidate.labelled is None
    windows.observe_labels([("s0", 1), ("s1", 1), ("s2", 1), ("c0", 1), ("c1", 1), ("x", 0)])
    stable, candidate, _ = windows.windows("d", STABLE, CANDIDATE)
    assert (stable.labelled, stable.correct) == (3, 2)
    # a second label for one id corrects the first: the latest wins, as in the log
    windows.observe_labels([("s0", 0)])
    assert (windows.windows("d", STABLE, CANDIDATE)[0].correct) == 1
    windows.observe_labels([("s0", 1), ("s2", 0)])
    stable, candidate, _ = windows.windows("d", STABLE, CANDIDATE)
    assert (stable.labelled, stable.correct) == (3, 3)
    assert (candidate.labelled, candidate.correct) == (2, 1)


def test_labels_for_an_earlier_step_or_an_unwatched_deployment_are_not_counted() -> None:
    windows = opened()
    label_arm(windows, STABLE, [1, 1], "s")
    windows.reset("d")
    answered(windows, STABLE, 2)
    windows.observe_labels([("s0", 1), ("s1", 1)])
    assert windows.windows("d", STABLE, CANDIDATE)[0].labelled is None
    idle = ArmWindows()  # no canary opened a window: ids are not remembered at all
    label_arm(idle, STABLE, [1], "s")
    idle.observe_labels([("s0", 1)])
    assert idle.windows("d", STABLE, CANDIDATE)[0].labelled is None


def test_remembered_ids_are_bounded() -> None:
    windows = ArmWindows(remembered=3)
    windows.reset("d")
    label_arm(windows, STABLE, [1, 1, 1, 1, 1], "s")
    windows.observe_labels([(f"s{i}", 1) for i in range(5)])
    stable = windows.windows("d", STABLE, CANDIDATE)[0]
    assert (stable.labelled, stable.correct) == (3, 3)  # the oldest two were forgotten


def test_regressor_answers_wait_for_no_label() -> None:
    windows = opened()
    windows.observe("d", STABLE, 200, 0.01)
    windows.observe_predictions("d", STABLE, np.array([1.5]), prediction_id="r", classes=False)
    windows.observe_labels([("r", 1.5)])
    assert windows.windows("d", STABLE, CANDIDATE)[0].labelled is None


@pytest.mark.parametrize(("label", "correct"), [(True, 0), (1, 1)])
def test_a_boolean_label_is_never_a_numeric_class(label: object, correct: int) -> None:
    windows = opened()
    label_arm(windows, STABLE, [1], "s")
    windows.observe_labels([("s0", label)])
    assert windows.windows("d", STABLE, CANDIDATE)[0].correct == correct


def test_pairs_wait_for_a_canary_and_stop_with_it() -> None:
    windows = ArmWindows()
    pair = (np.array([1]), np.array([1]))
    windows.observe_pair("d", STABLE, CANDIDATE, *pair, classes=True)
    assert windows.windows("d", STABLE, CANDIDATE)[2] is None  # nobody watched yet
    windows.reset("d")
    windows.observe_pair("d", STABLE, CANDIDATE, *pair, classes=True)
    assert windows.windows("d", STABLE, CANDIDATE)[2] is not None
    windows.forget("d")
    windows.observe_pair("d", STABLE, CANDIDATE, *pair, classes=True)
    assert windows.windows("d", STABLE, CANDIDATE)[2] is None
