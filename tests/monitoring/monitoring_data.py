"""Test data for the monitoring tests (a module of its own so tests can import it)."""

from __future__ import annotations

import numpy as np
import pandas as pd

N_NORMAL = 10
N_LOGNORMAL = 6
CATEGORIES = np.array(["a", "b", "c", "d"])
PROBS = np.array([0.4, 0.3, 0.2, 0.1])


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """24 features: normal, lognormal, discrete, categorical, and some with missing values."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for j in range(N_NORMAL):
        data[f"normal_{j}"] = rng.normal(loc=j, scale=1 + j, size=n)
    for j in range(N_LOGNORMAL):
        data[f"lognormal_{j}"] = rng.lognormal(mean=0, sigma=0.5 + j / 4, size=n)
    data["count"] = rng.poisson(3, size=n)
    data["flag"] = rng.random(n) < 0.3
    for j in range(4):
        data[f"cat_{j}"] = rng.choice(CATEGORIES, p=PROBS, size=n)
    # missing values: NaN in a float column, None in an object column
    with_nan = rng.normal(size=n)
    with_nan[rng.random(n) < 0.1] = np.nan
    data["with_nan"] = with_nan
    with_none = rng.choice(CATEGORIES, p=PROBS, size=n).astype(object)
    with_none[rng.random(n) < 0.1] = None
    data["with_none"] = with_none
    return pd.DataFrame(data)
