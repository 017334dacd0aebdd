"""Monitoring: reference profiles and drift detection.

``build_profile`` summarises a training sample (stored with each model version);
``detect_drift`` tests production data against such a profile and ``compare``
tests one raw data set against another. All are pure: data in, results out.
"""

from modelport.monitoring.drift import (
    DriftConfig,
    DriftReport,
    FeatureDrift,
    compare,
    detect_drift,
)
from modelport.monitoring.monitor import run_monitor
from modelport.monitoring.profile import (
    CategoricalProfile,
    FeatureProfile,
    NumericProfile,
    Profile,
    build_profile,
)
from modelport.monitoring.results import MonitorReport

__all__ = [
    "CategoricalProfile",
    "DriftConfig",
    "DriftReport",
    "FeatureDrift",
    "FeatureProfile",
    "MonitorReport",
    "NumericProfile",
    "Profile",
    "build_profile",
    "compare",
    "detect_drift",
    "run_monitor",
]
