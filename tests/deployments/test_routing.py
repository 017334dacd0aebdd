"""Arm choice: shares within binomial bounds, sticky keys fixed across processes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from scipy import stats

from modelport.deployments.routing import choose_arm, chosen_shadows, key_draw
from modelport.deployments.spec import Arm, DeploymentSpec, Shadow

SPEC = DeploymentSpec(
    "checkout", (Arm("m@production", 90), Arm("m:3", 10)), None, (Shadow("m:4", 50),)
)


def test_random_draws_split_the_traffic_by_weight_within_binomial_bounds() -> None:
    draws = np.random.default_rng(7).random(10_000)
    arms = np.array([choose_arm(SPEC, d) for d in draws])
    share = (arms == 1).sum()
    low, high = stats.binom.interval(0.999, 10_000, 0.1)
    assert low <= share <= high


def test_sticky_keys_split_by_weight_and_stay_put() -> None:
    keys = [f"user-{i}" for i in range(10_000)]
    first = [choose_arm(SPEC, key_draw("checkout", k)) for k in keys]
    again = [choose_arm(SPEC, key_draw("checkout", k)) for k in keys]
    assert first == again
    low, high = stats.binom.interval(0.999, 10_000, 0.1)
    assert low <= sum(first) <= high


def test_a_key_draw_is_the_same_in_another_process() -> None:
    here = [key_draw("checkout", f"user-{i}") for i in range(5)]
    code = (
        "from modelport.deployments.routing import key_draw; "
        "print([key_draw('checkout', f'user-{i}') for i in range(5)])"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert repr(here) == there.strip()


def test_deployments_assign_the_same_key_independently() -> None:
    a = [key_draw("checkout", f"u{i}") < 0.5 for i in range(2000)]
    b = [key_draw("search", f"u{i}") < 0.5 for i in range(2000)]
    agreement = np.mean(np.array(a) == np.array(b))
    assert 0.45 < agreement < 0.55  # independent, not the same split


def test_a_zero_weight_arm_gets_nothing_and_shadows_copy_their_share() -> None:
    spec = DeploymentSpec("d", (Arm("m:1", 0), Arm("m:2", 1)))
    assert {choose_arm(spec, d) for d in np.linspace(0, 0.999999, 1000)} == {1}
    assert choose_arm(spec, 1.0) == 1  # the top edge never falls past the last arm
    assert chosen_shadows(SPEC, [0.49]) == [0] and chosen_shadows(SPEC, [0.5]) == []
