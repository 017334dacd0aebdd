"""Toy models the packaging tests' servers load (importable: saved as a reference)."""

from __future__ import annotations

import time

import numpy as np

#: a first feature above this fails the request (500); below minus this, it is slow
FAIL_ABOVE = 100.0
SLOW_SECONDS = 0.6


def flaky(batch: np.ndarray) -> np.ndarray:
    """The first feature, or a failure (x0 > 100), or a slow answer (x0 < -100)."""
    values = np.asarray(batch, dtype=np.float64)
    if (values[:, 0] > FAIL_ABOVE).any():
        raise RuntimeError("flaky fails on x0 > 100")
    if (values[:, 0] < -FAIL_ABOVE).any():
        time.sleep(SLOW_SECONDS)
    return values[:, 0]
