"""Census DiD study: inference with few treated units, and the main table.

Randomisation inference over the assignment of treatment among the sample's
units (:func:`randomization_inference`, exact enumeration when feasible), the
wild cluster bootstrap over prefectures (:func:`wild_p`), and the main table
that puts them beside the analytic p-values with Holm, Benjamini-Hochberg and
Romano-Wolf adjustments across the outcome family (:func:`main_table`).
Separate from :mod:`analysis.studies.census.estimate` because these are the
seeded, draw-based computations (their settings :data:`RI_SETTINGS` and
:data:`WILD_SETTINGS` are quoted in the table notes).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from analysis.inference.ri import RIFamily, regression_randomization_test
from analysis.studies.census.estimate import FDEstimate, design_matrix, dr_did, fd_regression
from analysis.studies.census.sample import DEFAULT_COVARIATES, OUTCOMES, StudySample

# ---------------------------------------------------- randomisation inference
#: Exact enumeration up to ``exact_limit`` assignments, else Monte Carlo draws.
RI_SETTINGS = {"exact_limit": 200_000, "n_draws": 9999, "seed": 0}


def randomization_inference(
    sample: StudySample,
    outcomes: tuple[str, ...] = OUTCOMES,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    *,
    strata: Literal["none", "prefecture"] = "none",
    exact_limit: int = RI_SETTINGS["exact_limit"],
    n_draws: int = RI_SETTINGS["n_draws"],
    seed: int = RI_SETTINGS["seed"],
    prefecture_effects: bool = True,
) -> RIFamily:
    """RI p-values for the FD coefficient of every outcome, sharing the assignments.

    :func:`analysis.inference.ri.regression_randomization_test` on the
    first-difference design: the treatment is re-assigned among the sample's
    units (``strata="prefecture"``: within prefectures), the controls are the
    constant, the baseline covariates and the prefecture effects of
    :func:`design_matrix`. Exact enumeration when there are at most
    ``exact_limit`` assignments, else ``n_draws`` Monte Carlo draws (``seed``).
    Assignments collinear with the controls do not identify the coefficient
    and are left out (``n_draws`` of the result counts the ones used).
    """
    d = sample.data
    ys = {}
    for o in outcomes:
        y, X, names = design_matrix(sample, o, covariates, prefecture_effects)
        ys[o] = y
    controls = np.delete(X, names.index("treated"), axis=1)
    by_pref = strata == "prefecture"
    return regression_randomization_test(
        pd.DataFrame(ys),
        d["treated"].to_numpy(),
        controls,
        strata=d["prefecture"].to_numpy() if by_pref else None,
        strata_column="prefecture" if by_pref else None,
        exact="auto",
        max_exact=exact_limit,
        n_draws=n_draws,
        seed=seed,
    )


WILD_SETTINGS = {"B": 9999, "weights": "webb", "seed": 0}


def wild_p(sample: StudySample, outcome: str, covariates: tuple[str, ...] = DEFAULT_COVARIATES):
    """Wild cluster bootstrap (WCR, Webb weights) over prefectures for the FD coefficient."""
    from analysis.inference.wild import wild_cluster_bootstrap

    y, X, names = design_matrix(sample, outcome, covariates)
    return wild_cluster_bootstrap(
        y, X, sample.data["prefecture"].to_numpy(), names.index("treated"), **WILD_SETTINGS
    )


def _fd_wild_row(
    sample: StudySample, outcome: str, covariates: tuple[str, ...]
) -> tuple[dict[str, float], FDEstimate]:
    """The FD coefficient with its HC1, CR1 and wild-bootstrap inference (table columns)."""
    fd = fd_regression(sample, outcome, covariates)
    w = wild_p(sample, outcome, covariates)
    row = {
        "beta": fd.beta,
        "se_hc1": fd.se_hc1,
        "p_hc1": fd.p_hc1,
        "se_cr1": fd.se_cr1,
        "p_cr1": fd.p_cr1,
        "p_wild": w.p_value,
        "wild_ci_low": w.ci[0],
        "wild_ci_high": w.ci[1],
    }
    return row, fd


def _inference_row(sample: StudySample, covariates: tuple[str, ...]) -> dict[str, float]:
    """The main table's estimator and inference for ``d_log_pop`` of one sample."""
    row, fd = _fd_wild_row(sample, "log_pop", covariates)
    ri = randomization_inference(sample, ("log_pop",), covariates)
    return {
        **row,
        "p_ri": float(ri.p_values[0]),
        "ri_exact": bool(ri.exact),
        "ri_n_assignments": ri.n_draws,
        "n_units": fd.n,
        "n_treated": fd.n_treated,
        "n_clusters": fd.n_clusters,
    }


def main_table(
    sample: StudySample,
    outcomes: tuple[str, ...] = OUTCOMES,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    ri: RIFamily | None = None,
) -> pd.DataFrame:
    """Estimates and the three kinds of p-values, with multiple-testing adjustments.

    Columns: outcome, beta, se_hc1, p_hc1, se_cr1, p_cr1, p_wild, wild_ci_low/high,
    p_ri, p_ri_holm, p_ri_bh, p_ri_romano_wolf, dr_att, dr_se, dr_p, sd_control
    (s.d. of the change among controls), effect_sd (beta / sd_control).
    """
    from scipy import stats

    from analysis.inference.multitest import benjamini_hochberg, holm, romano_wolf

    ri = ri or randomization_inference(sample, outcomes, covariates)
    rows = []
    for k, o in enumerate(outcomes):
        dr = dr_did(sample, o, covariates)
        ctrl = sample.data.loc[sample.data["treated"] == 0, f"d_{o}"]
        rows.append(
            {
                "outcome": o,
                **_fd_wild_row(sample, o, covariates)[0],
                "p_ri": float(ri.p_values[k]),
                "dr_att": dr.att,
                "dr_se": dr.se,
                "dr_p": float(2 * stats.norm.sf(abs(dr.att / dr.se))),
                "sd_control": float(ctrl.std(ddof=1)),
            }
        )
    out = pd.DataFrame(rows)
    out["effect_sd"] = out["beta"] / out["sd_control"]
    out["p_ri_holm"] = holm(out["p_ri"].to_numpy())
    out["p_ri_bh"] = benjamini_hochberg(out["p_ri"].to_numpy())
    # Romano-Wolf on the permutation draws, studentised by the permutation s.d.
    scale = ri.draws.std(axis=0, ddof=1)
    out["p_ri_romano_wolf"] = romano_wolf(
        ri.observed / scale, ri.draws / scale, plus_one=not ri.exact
    )
    return out
