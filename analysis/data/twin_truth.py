"""The SYNTHETIC twin's known effects and its true ATT(g,t) and aggregates.

The generator (:mod:`analysis.data.twin`) adds the unit-level effects
:math:`\\tau^v_{it}` of :func:`effect_matrix` to the effect outcomes; this module also turns
them into the truth an estimator is scored against: the true ATT(g,t) (the mean of
:math:`\\tau_{it}` over a cohort's counties) and its aggregates, formed exactly as
:func:`analysis.estimators.cs.callaway_santanna` forms them (:func:`aggregate_truth`). It
is separate from the generator because the truth is what a study compares its estimates
with: it depends on the effects and the cohorts, never on the shocks.

For a county with first enclave year :math:`g` and main enclave kind :math:`k`, in year
:math:`t \\ge g`,
:math:`\\tau^v_{it} = b_v\\, m_{kv}\\, h(g)\\, (1 + \\gamma \\min(t - g, \\bar e))`, with
:math:`h(g) = \\mathrm{clip}(1 + s (g_{\\mathrm{ref}} - g), h_{lo}, h_{hi})` larger for
early cohorts (parameter file, ``[effects]``). The ``null`` scenario sets every effect to
zero.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["EFFECT_OUTCOMES", "Scenario", "aggregate_truth", "effect_matrix", "truth"]

Scenario = Literal["effects", "null"]

#: Stored outcome -> the log outcome the studies estimate on (the one the truth refers to).
EFFECT_OUTCOMES: dict[str, str] = {
    "urban_income": "log_urban_income",
    "rural_income": "log_rural_income",
    "employment": "log_employment",
    "rd_expenditure": "log_rd",
}


def effect_matrix(
    params: dict, treat: pd.DataFrame, years: np.ndarray, scenario: Scenario
) -> dict[str, np.ndarray]:
    """:math:`\\tau_{it}` (log points) of each effect outcome, one row per unit of ``treat``.

    ``treat`` has ``cohort`` (first enclave year, 0 = never) and ``enclave_kind``; the
    columns are ``years``. The ``null`` scenario gives zeros (module docstring).
    """
    e = params["effects"]
    g = treat["cohort"].to_numpy()
    kinds = treat["enclave_kind"].to_numpy()
    hg = np.clip(1 + e["cohort_slope"] * (e["cohort_ref"] - g), e["cohort_lo"], e["cohort_hi"])
    exposure = years[None, :] - g[:, None]
    on = (g[:, None] > 0) & (exposure >= 0)
    shape = 1 + e["growth"] * np.minimum(np.maximum(exposure, 0), e["cap"])
    out = {}
    for v in e["outcomes"]:
        if scenario == "null":
            out[v] = np.zeros((len(g), years.size))
            continue
        m = np.array([e["kind"][k][v] if k else 0.0 for k in kinds])
        out[v] = np.where(on, e["base"][v] * m[:, None] * hg[:, None] * shape, 0.0)
    return out


def aggregate_truth(att_gt: pd.DataFrame, cohort_sizes: pd.Series) -> pd.DataFrame:
    """Aggregate true ATT(g,t) exactly as :func:`analysis.estimators.cs.callaway_santanna`.

    With :math:`p_g` the share of units in cohort :math:`g` (only ratios matter):

    * ``simple``: :math:`\\sum_{t \\ge g} p_g ATT(g,t) / \\sum_{t \\ge g} p_g`;
    * ``group``: :math:`\\theta(g)` = mean of cohort :math:`g`'s post cells; overall
      :math:`\\sum_g p_g \\theta(g) / \\sum_g p_g`;
    * ``dynamic``: :math:`\\theta(e) = \\sum_{t-g=e} p_g ATT(g,t) / \\sum p_g` for every
      event time in the cells (pre-periods included); overall = mean of
      :math:`\\theta(e)` over :math:`e \\ge 0`;
    * ``calendar``: :math:`\\theta(t)` over post cells of year :math:`t`; overall = mean.

    Overall values carry ``key = NaN``. ``att_gt`` needs ``outcome, cohort, time, att``;
    ``cohort_sizes`` maps cohort -> number of units (cohorts absent from it are dropped).
    """
    rows = []
    for outcome, d in att_gt.groupby("outcome", sort=False):
        d = d[d["cohort"].isin(cohort_sizes.index)].copy()
        d["e"] = d["time"] - d["cohort"]
        d["w"] = d["cohort"].map(cohort_sizes).astype(float)
        post = d[d["e"] >= 0]
        rows.append((outcome, "simple", np.nan, np.average(post["att"], weights=post["w"])))
        grp = post.groupby("cohort")["att"].mean()
        for g, v in grp.items():
            rows.append((outcome, "group", g, v))
        wg = cohort_sizes.loc[grp.index].astype(float)
        rows.append((outcome, "group", np.nan, float(np.dot(wg, grp) / wg.sum())))
        dyn = d.groupby("e").apply(
            lambda s: np.average(s["att"], weights=s["w"]), include_groups=False
        )
        for e, v in dyn.items():
            rows.append((outcome, "dynamic", e, v))
        rows.append((outcome, "dynamic", np.nan, float(dyn[dyn.index >= 0].mean())))
        cal = post.groupby("time").apply(
            lambda s: np.average(s["att"], weights=s["w"]), include_groups=False
        )
        for t, v in cal.items():
            rows.append((outcome, "calendar", t, v))
        rows.append((outcome, "calendar", np.nan, float(cal.mean())))
    out = pd.DataFrame(rows, columns=["outcome", "type", "key", "att"])
    out["key"] = out["key"].astype(float)
    out["att"] = out["att"].astype(float)
    return out


def truth(info: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """True ATT(g,t), its aggregates and the unit-level effects of one generated twin.

    ``info`` is the generator's record (``treat``, ``years``, ``tau`` of
    :func:`effect_matrix` on those years, ``units``). ATT(g,t) is the mean of
    :math:`\\tau_{it}` over cohort :math:`g`'s units, for the cells an estimator can form
    (time after the first year, the varying base); the aggregates are
    :func:`aggregate_truth` of the cohorts treated after the first year. Returns the
    frames ``Twin.att_gt``, ``Twin.aggregates`` and ``Twin.effects``.
    """
    treat, yrs, tau, units = info["treat"], info["years"], info["tau"], info["units"]
    first = int(yrs[0])
    g = treat["cohort"].to_numpy()
    eff_rows = []
    att_rows = []
    for v, out_name in EFFECT_OUTCOMES.items():
        t_ = tau[v]
        eff = pd.DataFrame(
            {
                "code": np.repeat(units["code"].to_numpy(), yrs.size),
                "year": np.tile(yrs, len(units)),
                "outcome": out_name,
                "tau": t_.ravel(),
            }
        )
        eff_rows.append(eff)
        for c in sorted(set(g[g > 0])):
            mean_tau = t_[g == c].mean(axis=0)
            for k, t in enumerate(yrs):
                # cells an estimator can form: time after the first year (varying base)
                if t <= first and t < c:
                    continue
                att_rows.append((out_name, int(c), int(t), int(t - c), float(mean_tau[k]), t >= c))
    att = pd.DataFrame(att_rows, columns=["outcome", "cohort", "time", "event", "att", "post"])
    sizes = pd.Series(g[g > first]).value_counts().sort_index()
    aggs = aggregate_truth(att[att["cohort"] > first], sizes)
    return att, aggs, pd.concat(eff_rows, ignore_index=True)
