"""Annual study: inference beyond the analytic standard errors, and power.

The static TWFE and main CS ATT under county and prefecture clustering, the
restricted wild cluster bootstrap over prefectures and randomisation inference
over adoption timing (:func:`inference_table`, :func:`ri_main`); multiple
testing across the outcome family (:func:`family_table`); the minimum
detectable effect of the main estimator (:func:`mde`); and the sentence that
says which of these inferences to trust (:func:`trust_sentence`).

Separate from :mod:`analysis.studies.annual.effects` because everything here
re-uses the fitted estimates (through :func:`~analysis.studies.annual.effects.fit`
and the main table) and adds draws (bootstrap, permutations, simulations) on
top of them: it is the slow, seeded part of the study.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.studies.annual.design import (
    ALPHA,
    CLUSTER,
    COHORT,
    DRAW_SEED,
    MAIN,
    N_DRAWS,
    N_POWER_SIMS,
    OUTCOMES,
    SPEC,
    TIME,
    UNIT,
    AnnualData,
    Design,
    sample_frame,
)
from analysis.studies.annual.effects import fit

if TYPE_CHECKING:
    from analysis.studies.annual.estimate import OutcomeAnalysis


# ------------------------------------------------------------------ inference
def inference_table(
    data: AnnualData,
    outcome: str,
    results: Mapping[str, Any],
    draws: int = N_DRAWS,
    seed: int = DRAW_SEED,
) -> tuple[pd.DataFrame, Any]:
    """Static TWFE and main CS ATT under county/prefecture clustering, wild bootstrap, RI.

    Returns the table and the randomisation result of the main estimator
    (its draws feed the Romano-Wolf adjustment).
    """
    from analysis.inference.post import _twfe_design
    from analysis.inference.wild import wild_cluster_bootstrap

    z = stats.norm.ppf(1 - ALPHA / 2)
    d = sample_frame(data, "all")
    G = int(d[CLUSTER].nunique())
    rows = []

    def add(est, inf, att, se, lo, hi, p, n_clusters, note=""):
        rows.append(
            {
                "estimate": est,
                "inference": inf,
                "att": att,
                "se": se,
                "ci_low": lo,
                "ci_high": hi,
                "p_value": p,
                "n_clusters": n_clusters,
                "note": note,
            }
        )

    def analytic(est, inf, r, n_clusters, df=None):
        # normal reference (df None) or t(df): interval att -/+ crit * se, two-sided p
        if df is None:
            crit, p = z, 2 * stats.norm.sf(abs(r.att / r.se))
        else:
            crit, p = stats.t.ppf(1 - ALPHA / 2, df), 2 * stats.t.sf(abs(r.att / r.se), df)
        add(est, inf, r.att, r.se, r.att - crit * r.se, r.att + crit * r.se, p, n_clusters)

    def randomised(est, ri):
        inf = f"randomisation over adoption timing ({ri.n_draws} draws)"
        add(est, inf, ri.observed, np.nan, np.nan, np.nan, ri.p_value, np.nan)

    tw = results["twfe"]
    analytic("Static TWFE", "CR1 clustered by county", tw, tw.info.get("n_clusters"))
    twp = fit(data, outcome, "twfe", cluster=CLUSTER)
    analytic("Static TWFE", f"CR1 clustered by prefecture (t, {G - 1} df)", twp, G, G - 1)
    y, X, cl, fe = _twfe_design(
        d, outcome=outcome, unit=UNIT, time=TIME, cohort=COHORT, covariates=(), cluster=CLUSTER
    )
    w = wild_cluster_bootstrap(
        y, X, cl, 0, fe=fe, B=draws, weights="webb", seed=seed, alpha=ALPHA, backend="serial"
    )
    add(
        "Static TWFE",
        f"wild cluster bootstrap by prefecture (WCR, Webb, {draws} draws)",
        w.estimate,
        np.nan,
        w.ci[0],
        w.ci[1],
        w.p_value,
        w.n_clusters,
    )
    randomised("Static TWFE", _timing_test(data, outcome, "twfe", draws, seed))
    m = results[MAIN]
    analytic(SPEC[MAIN].label, "analytic, clustered by county", m, m.info.get("n_clusters"))
    mp = fit(data, outcome, MAIN, cluster=CLUSTER)
    analytic(SPEC[MAIN].label, f"analytic, clustered by prefecture (t, {G - 1} df)", mp, G, G - 1)
    ri_cs = ri_main(data, outcome, draws=draws, seed=seed)
    randomised(SPEC[MAIN].label, ri_cs)
    return pd.DataFrame(rows), ri_cs


def _timing_test(
    data: AnnualData,
    outcome: str,
    statistic: str,
    draws: int,
    seed: int,
    options: Mapping[str, Any] | None = None,
):
    """Randomisation test of one registry estimator's ATT over adoption timing.

    Ever-treated counties exchange adoption years
    (:func:`analysis.inference.ri.randomization_test` with ``permute="timing"``)
    on the whole estimation sample; ``options`` are the estimator's.

    Returns
    -------
    analysis.inference.ri.RIResult
    """
    from analysis.inference.ri import randomization_test

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return randomization_test(
            sample_frame(data, "all"),
            unit=UNIT,
            time=TIME,
            cohort=COHORT,
            outcome=outcome,
            statistic=statistic,
            permute="timing",
            n_draws=draws,
            seed=seed,
            estimator_options=options,
            backend="serial",
        )


def ri_main(data: AnnualData, outcome: str, draws: int = N_DRAWS, seed: int = DRAW_SEED):
    """Randomisation test of the main CS simple ATT over adoption timing."""
    opts = dict(SPEC[MAIN].options)
    opts.pop("base_period", None)
    opts.pop("est_method", None)
    return _timing_test(data, outcome, "cs", draws, seed, opts)


def trust_sentence(design_: Design, table: pd.DataFrame) -> str:
    """Which inference to trust, and why (generated from the design's counts)."""
    sizes = design_.cohorts["n_units"]
    return (
        f"The {design_.n_treated} treated counties form {len(sizes)} cohorts, {int((sizes == 1).sum())} "
        f"of them a single county, so analytic standard errors built from within-cohort variation "
        "(most of all Sun-Abraham's and BJS's) understate the uncertainty of those cohorts. "
        f"Treated counties sit in only {design_.n_treated_prefectures} of {design_.n_prefectures} "
        "prefectures, so prefecture-clustered standard errors rest on very few effective clusters "
        "(CR1 over-rejects) and the wild cluster bootstrap is unreliable with so few treated clusters "
        "(MacKinnon and Webb 2017); county clustering is valid if shocks are county-level. "
        "Randomisation inference over adoption timing needs neither: it is exact for the sharp null of "
        "no effect if the adoption years are as good as randomly assigned among the treated counties. "
        "We trust it for the test (in the slow-tier Monte Carlo on the twin's null scenario it rejects "
        "at about 5% while the analytic SA and BJS tests over-reject), and read the county-clustered "
        "CS interval, the widest analytic one, as the size of the effect."
    )


# ---------------------------------------------------------------------- power
def mde(
    data: AnnualData, outcome: str, n_sims: int = N_POWER_SIMS, seed: int = DRAW_SEED
) -> dict[str, float]:
    """MDE of the main CS ATT at 80% power and 5% size, in outcome units.

    The design (units, years, adoption timing) is the estimation sample's; the
    noise (AR(1) s.d. and persistence) is estimated from TWFE residuals
    (:meth:`analysis.inference.power.PanelDesign.from_data`).
    """
    from analysis.inference.power import PanelDesign, simulate_power

    d = sample_frame(data, "all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        des = PanelDesign.from_data(d, outcome=outcome, unit=UNIT, time=TIME, cohort=COHORT)
        sim = simulate_power(
            des,
            method="cs",
            inference="analytic",
            n_sims=n_sims,
            alpha=ALPHA,
            seed=seed,
            method_options={"control": "notyet"},
            n_jobs=1,
            backend="serial",
        )
    v = sim.mde(0.8)
    return {
        "mde": float(v),
        "sigma": des.sigma,
        "rho": des.rho,
        "mde_over_sigma": float(v / des.sigma),
        "size": float(sim.power(0.0)),
        "n_sims": n_sims,
    }


def family_table(analyses: Mapping[str, OutcomeAnalysis]) -> pd.DataFrame:
    """Multiple testing across the outcome family (main CS ATT of every outcome).

    Holm and Benjamini-Hochberg adjust the analytic (county-clustered)
    p-values; Romano-Wolf adjusts the randomisation p-values using the
    randomisation draws of all outcomes (the same permutations of adoption
    timing), each studentised by its permutation s.d.
    """
    from analysis.inference.multitest import (
        benjamini_hochberg,
        holm,
        romano_wolf,
        westfall_young,
    )

    names = list(analyses)
    m = [a.main.set_index("estimator").loc[MAIN] for a in analyses.values()]
    t = pd.DataFrame(
        {
            "outcome": names,
            "notebook": [OUTCOMES[o].notebook if o in OUTCOMES else "" for o in names],
            "att": [r["att"] for r in m],
            "se": [r["se"] for r in m],
            "p_value": [r["p_value"] for r in m],
        }
    )
    t["p_holm"] = holm(t["p_value"].to_numpy())
    t["p_bh"] = benjamini_hochberg(t["p_value"].to_numpy())
    obs = np.array([a.ri.observed for a in analyses.values()])
    D = np.column_stack([np.asarray(a.ri.draws) for a in analyses.values()])
    t["p_ri"] = [a.ri.p_value for a in analyses.values()]
    t["p_ri_holm"] = holm(t["p_ri"].to_numpy())
    scale = D.std(axis=0, ddof=1)
    t["p_ri_romano_wolf"] = romano_wolf(obs / scale, D / scale, plus_one=True)
    # the permutation laws differ in shape across outcomes (a handful of adoption
    # cohorts), so the studentised max-T is not pivotal; Westfall-Young min-P works
    # on each outcome's own permutation p-values and is reported beside it
    t["p_ri_wy_minp"] = westfall_young(obs, D, method="minP", stepdown=True, plus_one=True)
    if all(a.truth is not None for a in analyses.values()):
        t["truth"] = [a.truth["simple"] for a in analyses.values()]
    return t
