"""Monitoring: reference profiles and drift detection.

``build_profile`` summarises a training sample (stored with each model version);
``detect_drift`` tests production data against such a profile and ``compare``
tests one raw data set against another. All are pure: data in, results out.

Names are imported on first use (PEP 562): the drift tests need SciPy, and a module
that only needs ``monitoring.alerts`` or ``monitoring.durations`` should not pay for it.
"""

import importlib as _importlib
import typing as _typing

_EXPORTS = {
    "CategoricalProfile": "modelport.monitoring.profile",
    "DriftConfig": "modelport.monitoring.drift",
    "DriftReport": "modelport.monitoring.drift",
    "FeatureDrift": "modelport.monitoring.drift",
    "FeatureProfile": "modelport.monitoring.profile",
    "MonitorReport": "modelport.monitoring.results",
    "NumericProfile": "modelport.monitoring.profile",
    "Profile": "modelport.monitoring.profile",
    "build_profile": "modelport.monitoring.profile",
    "compare": "modelport.monitoring.drift",
    "detect_drift": "modelport.monitoring.drift",
    "run_monitor": "modelport.monitoring.monitor",
}

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


def __getattr__(name: str) -> _typing.Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'modelport.monitoring' has no attribute {name!r}")
    value = getattr(_importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if _typing.TYPE_CHECKING:
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
