"""A deterministic, credit-risk-like synthetic data set.

Numeric and categorical features with realistic names and ranges; the default
label depends on them through a known logistic model, so trained models reach
a believable AUC. ``shift`` produces the drifted traffic the monitoring demo
detects (incomes down, a new loan purpose, more missing employment data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HOME_OWNERSHIP = ["mortgage", "own", "rent"]
PURPOSES = [
    "car",
    "debt_consolidation",
    "education",
    "home_improvement",
    "medical",
    "small_business",
]
REGIONS = ["midwest", "northeast", "south", "west"]
NUMERIC = [
    "age",
    "annual_income",
    "loan_amount",
    "term_months",
    "credit_score",
    "employment_years",
    "debt_to_income",
    "open_accounts",
]
CATEGORICAL = ["home_ownership", "purpose", "region"]
FEATURES = NUMERIC + CATEGORICAL


def credit_data(n: int = 20_000, seed: int = 7, *, shift: bool = False) -> pd.DataFrame:
    """``n`` loan applications with a ``default`` label (1 = defaulted)."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(41, 12, n), 18, 85).round().astype("int64")
    income_median = 38_000 if shift else 52_000
    annual_income = np.round(rng.lognormal(np.log(income_median), 0.45, n), -2)
    loan_amount = np.round(np.clip(rng.lognormal(np.log(12_000), 0.7, n), 500, 100_000), -1)
    term_months = rng.choice([36, 60], n, p=[0.7, 0.3]).astype("int64")
    credit_score = np.clip(rng.normal(690, 55, n), 300, 850).round().astype("int64")
    employment_years = np.clip(rng.gamma(2.0, 3.0, n), 0, 45).round(1)
    missing_rate = 0.12 if shift else 0.04
    employment_years[rng.random(n) < missing_rate] = np.nan
    debt_to_income = np.clip(rng.beta(2.2, 6.0, n) * 60, 0, 60).round(2)
    open_accounts = rng.poisson(7, n).astype("int64")
    home = rng.choice(HOME_OWNERSHIP, n, p=[0.42, 0.13, 0.45])
    if shift:  # a new product ("crypto") takes share from the others
        purposes = [*PURPOSES, "crypto"]
        weights = [0.12, 0.36, 0.06, 0.10, 0.06, 0.15, 0.15]
    else:
        purposes, weights = PURPOSES, [0.16, 0.44, 0.06, 0.12, 0.07, 0.15]
    purpose = rng.choice(purposes, n, p=np.array(weights) / np.sum(weights))
    region = rng.choice(REGIONS, n, p=[0.22, 0.19, 0.37, 0.22])

    # A known risk model with thresholds and interactions: boosting can find what the
    # linear baseline cannot, so the second version is genuinely better.
    ratio = loan_amount / annual_income
    logit = (
        -2.6
        - 0.018 * (credit_score - 690)
        + 1.3 * (credit_score < 620)
        + 2.2 * np.minimum(ratio, 1.5)
        + 0.05 * (debt_to_income - 16)
        + 1.1 * ((debt_to_income > 30) & (term_months == 60))
        - 0.05 * np.nan_to_num(employment_years, nan=1.0)
        + 0.8 * np.isnan(employment_years)
        + 0.45 * (home == "rent")
        + 0.7 * (purpose == "small_business")
        + 1.0 * (purpose == "crypto")
        + 0.0012 * (age - 41) ** 2
    )
    default = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "age": age,
            "annual_income": annual_income,
            "loan_amount": loan_amount,
            "term_months": term_months,
            "credit_score": credit_score,
            "employment_years": employment_years,
            "debt_to_income": debt_to_income,
            "open_accounts": open_accounts,
            "home_ownership": home,
            "purpose": purpose,
            "region": region,
            "default": default,
        }
    )
