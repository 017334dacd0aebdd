"""Shared fixtures for the monitoring tests: a mixed reference sample and its profile."""

from __future__ import annotations

import pandas as pd
import pytest
from monitoring_data import make_frame

from modelport.monitoring import Profile, build_profile


@pytest.fixture(scope="session")
def reference() -> pd.DataFrame:
    return make_frame(100_000, seed=1)


@pytest.fixture(scope="session")
def profile(reference: pd.DataFrame) -> Profile:
    return build_profile(reference)
