"""Asymptotic confidence sequences for a mean and for the difference of two means.

The boundary is the two-sided normal-mixture ("conjugate mixture") boundary of the asymptotic
confidence sequence for i.i.d. data in Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas,
"Time-uniform central limit theory and asymptotic confidence sequences", arXiv:2103.06476
(Annals of Statistics, 2024), section 2::

    mean_t +- s_t * sqrt(2 (t rho^2 + 1) / (t^2 rho^2) * log(sqrt(t rho^2 + 1) / alpha))

with ``s_t`` the sample standard deviation: with probability about 1 - alpha the mean lies in
every interval of the sequence at once, so the interval may be read after every batch of data.
``rho`` only moves where the sequence is tightest; it is chosen so that the width is smallest at
``target_samples``, in closed form: ``t* rho^2 = -W_{-1}(-alpha^2 / e) - 1`` (W_{-1} the lower
branch of Lambert's W), the exact minimiser, as in the authors' R package ``drconfseq``.

The difference of two independent arms' means uses the same boundary at time ``t = n_a + n_b``
with the standard error ``sqrt(s_a^2 / n_a + s_b^2 / n_b)`` (the variance sum): at a fixed
allocation ratio this is the one-sample sequence of each unit's contribution to the difference,
as in the paper's section on randomised experiments. If the allocation changes during an
experiment it is an approximation; the simulations in the tests check the error rates.

The functions on arrays (:func:`mixture_radius`, :func:`mixture_p_value`) work on every look of
many experiments at once; :func:`mean_sequence` and :func:`difference_sequence` are the same
numbers for one sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from modelport.errors import InvalidArgument

# scipy is imported inside the functions that use it: a server imports this module on
# its start path, and scipy costs it ~0.3 s and ~30 MB for statistics it runs once per
# monitoring or canary poll, never per request.

#: the sequences are tightest at this many samples per arm (rho is tuned for it)
TARGET_SAMPLES = 5_000


def finite(value: float | None) -> float | None:
    """A finite float or None: the JSON-safe form of every number in a result."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# -- the boundary ---------------------------------------------------------------------------


def mixture_rho2(target: float, alpha: float) -> float:
    """The rho^2 that makes the normal-mixture boundary narrowest at ``target`` samples."""
    from scipy import special

    if not target >= 1:
        raise InvalidArgument(f"target sample size {target} is below 1", hint="use e.g. 5000")
    check_alpha(alpha)
    x = -float(np.real(special.lambertw(-(alpha**2) / math.e, k=-1))) - 1.0
    return x / float(target)


def mixture_radius(
    standard_error: ArrayLike, t: ArrayLike, *, alpha: float, rho2: float
) -> np.ndarray:
    """Half-width of the asymptotic confidence sequence, vectorised over looks.

    ``standard_error`` is ``s_t / sqrt(t)`` (or the two-sample variance sum's root); ``t`` the
    number of samples behind it. The radius is infinite where ``t < 2`` (no variance yet).
    """
    se = np.asarray(standard_error, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = t * rho2
        factor = np.sqrt(2.0 * (x + 1.0) / x * np.log(np.sqrt(x + 1.0) / alpha))
        radius = se * factor
    return np.asarray(np.where(t >= 2, radius, np.inf))


def mixture_p_value(
    estimate: ArrayLike, standard_error: ArrayLike, t: ArrayLike, *, rho2: float
) -> np.ndarray:
    """Anytime-valid p-value of ``estimate == 0``: the reciprocal of the mixture martingale.

    ``min(1, sqrt(1 + t rho^2) * exp(-z^2 t rho^2 / (2 (1 + t rho^2))))`` with ``z`` the
    estimate over its standard error; it is below ``a`` exactly when the level-``a`` sequence
    (same rho) excludes zero. 1 where there is no data, 0 for a nonzero estimate without noise.
    """
    est = np.asarray(estimate, dtype=np.float64)
    se = np.asarray(standard_error, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = t * rho2
        z2 = np.where(est == 0, 0.0, est**2 / se**2)
        log_p = 0.5 * np.log1p(x) - z2 * x / (2.0 * (1.0 + x))
        p = np.exp(np.minimum(log_p, 0.0))
    return np.asarray(np.where((t >= 2) & np.isfinite(est), p, 1.0))


# -- estimates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeanEstimate:
    """One arm's metric: the mean of its per-request values and the confidence sequence."""

    n: int
    mean: float | None
    std: float | None
    lower: float | None
    upper: float | None

    def contains(self, value: float) -> bool:
        """Whether the interval contains ``value`` (an unbounded side always does)."""
        return (self.lower is None or self.lower <= value) and (
            self.upper is None or value <= self.upper
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": finite(self.mean),
            "std": finite(self.std),
            "interval": {"lower": finite(self.lower), "upper": finite(self.upper)},
        }


@dataclass(frozen=True)
class DifferenceEstimate:
    """``candidate - control`` of two arms' means, its confidence sequence and p-value."""

    difference: float | None
    lower: float | None
    upper: float | None
    p_value: float

    @property
    def excludes_zero(self) -> bool:
        return (self.lower is not None and self.lower > 0) or (
            self.upper is not None and self.upper < 0
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "difference": finite(self.difference),
            "interval": {"lower": finite(self.lower), "upper": finite(self.upper)},
            "p_value": finite(self.p_value),
        }


def _moments(values: np.ndarray) -> tuple[int, float, float]:
    n = int(values.size)
    mean = float(values.mean()) if n else math.nan
    var = float(values.var(ddof=1)) if n >= 2 else math.nan
    return n, mean, var


def _bounds(centre: float, radius: float) -> tuple[float | None, float | None]:
    if not (math.isfinite(centre) and math.isfinite(radius)):
        return None, None
    return centre - radius, centre + radius


def mean_sequence(
    values: ArrayLike, *, alpha: float = 0.05, target_samples: float = TARGET_SAMPLES
) -> MeanEstimate:
    """The mean of ``values`` with its (1 - alpha) asymptotic confidence sequence.

    Unbounded sides (fewer than two values) are None.
    """
    n, mean, var = _moments(as_values(values, "values"))
    rho2 = mixture_rho2(target_samples, alpha)
    radius = float(
        mixture_radius(math.sqrt(var / n) if n >= 2 else math.nan, n, alpha=alpha, rho2=rho2)
    )
    lower, upper = _bounds(mean, radius)
    return MeanEstimate(
        n=n,
        mean=mean if n else None,
        std=math.sqrt(var) if n >= 2 else None,
        lower=lower,
        upper=upper,
    )


def difference_sequence(
    control: ArrayLike,
    candidate: ArrayLike,
    *,
    alpha: float = 0.05,
    target_samples: float = TARGET_SAMPLES,
) -> DifferenceEstimate:
    """``mean(candidate) - mean(control)`` with its two-sample asymptotic confidence sequence.

    Time is ``n_a + n_b``, tuned for ``2 * target_samples``; the standard error is the root of
    the variance sum (see the module docstring).
    """
    n_a, mean_a, var_a = _moments(as_values(control, "control values"))
    n_b, mean_b, var_b = _moments(as_values(candidate, "candidate values"))
    if n_a < 2 or n_b < 2:
        return DifferenceEstimate(
            difference=mean_b - mean_a if n_a and n_b else None, lower=None, upper=None, p_value=1.0
        )
    t = n_a + n_b
    se = math.sqrt(var_a / n_a + var_b / n_b)
    rho2 = mixture_rho2(2 * target_samples, alpha)
    difference = mean_b - mean_a
    lower, upper = _bounds(difference, float(mixture_radius(se, t, alpha=alpha, rho2=rho2)))
    p_value = float(mixture_p_value(difference, se, t, rho2=rho2))
    return DifferenceEstimate(difference=difference, lower=lower, upper=upper, p_value=p_value)


# -- input checks shared with the report -----------------------------------------------------


def check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise InvalidArgument(f"alpha {alpha!r} is not a number in (0, 1)", hint="e.g. 0.05")


def as_values(values: ArrayLike, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"{what} are not numbers", hint="pass a 1-D array of per-request values"
        ) from None
    if array.ndim != 1:
        raise InvalidArgument(
            f"{what} must be a 1-D array, got shape {array.shape}",
            hint="one value per request",
        )
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise InvalidArgument(
            f"{what} contain {bad} values that are NaN or infinite",
            hint="leave unlabelled requests out rather than passing NaN",
        )
    return array
