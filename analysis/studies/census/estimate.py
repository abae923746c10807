"""Census DiD study: the estimators on one sample.

The first-difference regression with prefecture effects and baseline
covariates (:func:`design_matrix`, :func:`fd_regression` with HC1 and CR1
standard errors, :func:`fd_fit` for regression tables), the balance table of
baseline characteristics, and the doubly-robust 2x2 DiD on the two-period
panel (:func:`dr_did`). Separate from :mod:`analysis.studies.census.inference`
(resampling inference and multiple testing on top of these fits).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analysis.estimators import registry as estimators
from analysis.studies.census.sample import (
    BASELINE,
    DEFAULT_COVARIATES,
    ENDLINE,
    OUTCOMES,
    StudySample,
)


def design_matrix(
    sample: StudySample,
    outcome: str,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    prefecture_effects: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(y, X, names)`` of the first-difference regression; column 1 of X is D."""
    d = sample.data
    cols = {"const": np.ones(len(d)), "treated": d["treated"].to_numpy(float)}
    for c in covariates:
        cols[f"{c}_{sample.baseline}"] = d[f"{c}_{sample.baseline}"].to_numpy(float)
    X = pd.DataFrame(cols)
    if prefecture_effects:
        dums = pd.get_dummies(d["prefecture"], prefix="pref", drop_first=True, dtype=float)
        X = pd.concat([X, dums.reset_index(drop=True)], axis=1)
    # drop columns that are constant zero (a prefecture with no units after filtering)
    X = X.loc[:, (X != 0).any(axis=0)]
    y = d[f"d_{outcome}"].to_numpy(float)
    return y, X.to_numpy(float), list(X.columns)


def fd_fit(
    sample: StudySample,
    outcome: str,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    prefecture_effects: bool = True,
):
    """The first-difference regression as a statsmodels result (HC1), named terms.

    Same design as :func:`fd_regression` (one :func:`design_matrix`); for
    regression tables.
    """
    y, X, names = design_matrix(sample, outcome, covariates, prefecture_effects)
    return sm.OLS(pd.Series(y, name=f"d_{outcome}"), pd.DataFrame(X, columns=names)).fit(
        cov_type="HC1"
    )


@dataclass(frozen=True)
class FDEstimate:
    """The treatment coefficient of one first-difference regression (:func:`fd_regression`).

    ``beta`` with its HC1 and prefecture-CR1 standard errors and p-values, the
    number of units ``n``, of treated units and of prefecture clusters.
    """

    outcome: str
    beta: float
    se_hc1: float
    se_cr1: float
    p_hc1: float
    p_cr1: float
    n: int
    n_treated: int
    n_clusters: int


def fd_regression(
    sample: StudySample,
    outcome: str,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    prefecture_effects: bool = True,
) -> FDEstimate:
    """First-difference DiD with prefecture effects; HC1 and prefecture-CR1 SEs.

    CR1 p-values use t(G-1) reference distribution (G = prefectures), HC1 uses
    t(n-k).
    """
    y, X, names = design_matrix(sample, outcome, covariates, prefecture_effects)
    groups = sample.data["prefecture"].to_numpy()
    fit = sm.OLS(y, X).fit()
    hc1 = fit.get_robustcov_results(cov_type="HC1")
    cr1 = fit.get_robustcov_results(
        cov_type="cluster", groups=groups, use_correction=True, df_correction=True
    )
    j = names.index("treated")
    return FDEstimate(
        outcome=outcome,
        beta=float(fit.params[j]),
        se_hc1=float(hc1.bse[j]),
        se_cr1=float(cr1.bse[j]),
        p_hc1=float(hc1.pvalues[j]),
        p_cr1=float(cr1.pvalues[j]),
        n=len(y),
        n_treated=sample.n_treated,
        n_clusters=len(np.unique(groups)),
    )


def balance_table(sample: StudySample, variables: tuple[str, ...] = OUTCOMES) -> pd.DataFrame:
    """2010 means by treatment status, difference and normalised difference."""
    d = sample.data
    rows = []
    for v in variables:
        a = d.loc[d["treated"] == 1, f"{v}_{BASELINE}"]
        b = d.loc[d["treated"] == 0, f"{v}_{BASELINE}"]
        sd = (
            math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
            if len(a) > 1 and len(b) > 1
            else float("nan")
        )
        rows.append(
            {
                "variable": v,
                "treated_mean": a.mean(),
                "control_mean": b.mean(),
                "difference": a.mean() - b.mean(),
                "normalised_difference": (a.mean() - b.mean()) / sd
                if sd and sd > 0
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def two_period_panel(
    sample: StudySample, outcome: str, covariates: tuple[str, ...] = DEFAULT_COVARIATES
) -> pd.DataFrame:
    """Long 2010/2020 panel of the sample for panel estimators (cohort 2020 = treated)."""
    d = sample.data
    base = pd.DataFrame(
        {
            "cbu": d["cbu"],
            "cohort": np.where(d["treated"] == 1, ENDLINE, 0),
            "prefecture": d["prefecture"],
            **{f"{c}_{BASELINE}": d[f"{c}_{BASELINE}"] for c in covariates},
        }
    )
    rows = []
    for year in (BASELINE, ENDLINE):
        rows.append(base.assign(year=year, y=d[f"{outcome}_{year}"].to_numpy()))
    return pd.concat(rows, ignore_index=True)


def dr_did(sample: StudySample, outcome: str, covariates: tuple[str, ...] = DEFAULT_COVARIATES):
    """Doubly-robust 2x2 DiD (Sant'Anna & Zhao 2020) with 2010 covariates.

    Uses the registry's ``cs`` (:func:`analysis.estimators.cs.callaway_santanna`)
    on the two-period panel (one cohort, never-treated comparison), so the
    estimate is the DRDID panel estimator with analytic influence-function
    standard errors. Two periods leave no pre-treatment ATT(g,t): the
    estimator's warning that there is no pre-trend test is expected here.
    """
    panel = two_period_panel(sample, outcome, covariates)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="no pre-treatment ATT", category=UserWarning)
        return estimators.get_spec("cs").func(
            panel,
            outcome="y",
            unit="cbu",
            time="year",
            cohort="cohort",
            covariates=tuple(f"{c}_{BASELINE}" for c in covariates),
            control="never",
            est_method="dr",
            data_layer="real (census)",
        )
