"""The typed results of a drift check and the settings that decide its verdicts.

The JSON form of :class:`DriftReport` is documented in :mod:`.drift`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from modelport.errors import ConfigurationError
from modelport.monitoring.numbers import finite_or_none
from modelport.monitoring.statistics import Correction


@dataclass(frozen=True)
class DriftConfig:
    """Significance level, correction and the smallest effects worth an alarm.

    The thresholds sit between what must alarm and what must not: a 0.1-SD mean
    shift gives KS D ~0.04 for a normal and >= 0.029 for any continuous shape
    (D ~ shift x max density, and max density x SD >= 1/sqrt(12)), while a
    0.01-SD shift gives ~0.004; moving 10% of the rows between two categories
    gives a JS distance >= 0.085, 1% gives ~0.0085. Noise alone stays far below
    at 10,000 reference rows (D ~0.01), and significance is required as well.
    """

    alpha: float = 0.05
    correction: Correction = "holm"
    #: smallest KS D worth an alarm
    ks_threshold: float = 0.02
    #: smallest Jensen-Shannon distance (base 2) worth an alarm
    js_threshold: float = 0.05
    #: PSI (numeric: on reference deciles) that alarms on its own, with significance
    psi_threshold: float = 0.2
    #: smallest absolute change of the missing rate worth an alarm
    missing_threshold: float = 0.02
    #: the report drifts when at least this share of features drift (0: any one)
    min_drifted_share: float = 0.0
    #: bins for PSI on numeric features (reference quantiles)
    psi_bins: int = 10
    #: unseen categories listed per feature (most frequent first)
    max_listed_categories: int = 20

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.alpha < 1:
            problems.append(f"alpha must be in (0, 1), not {self.alpha!r}")
        if self.correction not in ("holm", "bh", "none"):
            problems.append(f"correction must be 'holm', 'bh' or 'none', not {self.correction!r}")
        for name in ("ks_threshold", "js_threshold", "psi_threshold", "missing_threshold"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} must be >= 0, not {getattr(self, name)!r}")
        if not 0 <= self.min_drifted_share <= 1:
            problems.append(f"min_drifted_share must be in [0, 1], not {self.min_drifted_share!r}")
        if not isinstance(self.psi_bins, int) or self.psi_bins < 2:
            problems.append(f"psi_bins must be an integer >= 2, not {self.psi_bins!r}")
        if not isinstance(self.max_listed_categories, int) or self.max_listed_categories < 0:
            problems.append("max_listed_categories must be an integer >= 0")
        if problems:
            raise ConfigurationError(
                "invalid drift configuration: " + "; ".join(problems),
                hint="see modelport.monitoring.drift.DriftConfig for the defaults",
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeatureDrift:
    """The tests and verdict for one feature (or for the predictions)."""

    name: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None
    effect: float | None
    effect_measure: str
    psi: float | None
    distribution_drift: bool
    n_reference: int
    n_current: int
    missing_rate_reference: float
    missing_rate_current: float
    missing_p_value: float | None
    missing_p_value_adjusted: float | None
    missing_drift: bool
    #: numeric only: Wasserstein distance in reference standard deviations
    wasserstein: float | None = None
    #: categorical only
    unseen_categories: tuple[str, ...] = ()
    n_unseen_categories: int = 0
    unseen_share: float = 0.0

    @property
    def drift(self) -> bool:
        return self.distribution_drift or self.missing_drift

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"drift": self.drift}
        for key, value in asdict(self).items():
            if key in ("name", "unseen_categories", "n_unseen_categories", "unseen_share"):
                continue
            if key == "wasserstein" and self.kind != "numeric":
                continue
            data[key] = finite_or_none(value) if isinstance(value, float) else value
        if self.kind == "categorical":
            data["unseen_categories"] = list(self.unseen_categories)
            data["n_unseen_categories"] = self.n_unseen_categories
            data["unseen_share"] = finite_or_none(self.unseen_share)
        return data


@dataclass(frozen=True)
class DriftReport:
    """The result of a drift check; ``to_dict`` gives the stable JSON form."""

    drift: bool
    features: dict[str, FeatureDrift]
    predictions: FeatureDrift | None
    config: DriftConfig
    n_reference: int
    n_current: int
    method: str = "binned"
    extra_columns: tuple[str, ...] = ()

    @property
    def drifted_features(self) -> list[str]:
        return [name for name, feature in self.features.items() if feature.drift]

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift": self.drift,
            "drifted_features": self.drifted_features,
            "method": self.method,
            "config": self.config.to_dict(),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "extra_columns": list(self.extra_columns),
            "features": {name: f.to_dict() for name, f in self.features.items()},
            "predictions": None if self.predictions is None else self.predictions.to_dict(),
        }
