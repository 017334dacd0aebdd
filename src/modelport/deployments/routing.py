"""Which arm answers a request, and which shadows get a copy: pure functions of plain data.

A sticky key is hashed with the deployment's name (BLAKE2b, not Python's salted ``hash``),
so a caller lands on the same arm in every process and after every restart, and the
same key in two deployments is assigned independently. Without a key the draw is random.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right

from modelport.deployments.spec import DeploymentSpec

_SCALE = float(2**64)


def key_draw(deployment: str, key: str, salt: str = "arm") -> float:
    """A uniform number in [0, 1) fixed by (deployment, key): the same everywhere."""
    digest = hashlib.blake2b(f"{salt}\0{deployment}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def choose_arm(spec: DeploymentSpec, draw: float) -> int:
    """The index of the arm whose share of [0, 1) holds ``draw``."""
    index = bisect_right(spec.bounds, draw)
    # float sums may end a hair below 1; never past the last arm with a positive weight
    if index >= len(spec.arms):
        index = max(i for i, arm in enumerate(spec.arms) if arm.weight > 0)
    return index


def chosen_shadows(spec: DeploymentSpec, draws: list[float]) -> list[int]:
    """The shadows that get a copy: shadow ``i`` when ``draws[i]`` < its percent / 100."""
    return [i for i, shadow in enumerate(spec.shadows) if draws[i] < shadow.percent / 100.0]
