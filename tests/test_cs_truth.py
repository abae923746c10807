"""Callaway-Sant'Anna recovers known effects on simulated staggered panels.

``simulate_staggered`` has heterogeneous, growing effects
``tau_g(t) = base_g + slope * (t - g)``; with ``beta_x != 0`` the untreated
trend depends on ``x``, which also drives the timing of treatment, so only
*conditional* parallel trends hold. Seeds are fixed and the samples large, so
the checks are deterministic and tight (a few standard errors).
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.estimators.cs import callaway_santanna

Z_MAX = 4.0  # max |estimate - truth| / se over all cells of one fit


@cache
def sim(beta_x: float):
    return simulate_staggered(
        n_units=12_000,
        n_periods=8,
        cohorts=(3, 5, 7),
        never_share=0.3,
        base_effect=(1.0, 2.0, 3.0),
        slope=0.5,
        beta_x=beta_x,
        n_clusters=400,
        seed=11,
    )


@cache
def fit(beta_x: float, covariates: tuple[str, ...], est_method: str = "dr", **kw):
    s = sim(beta_x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return callaway_santanna(
            s.data,
            outcome="y",
            unit="unit",
            time="time",
            cohort="cohort",
            covariates=covariates,
            est_method=est_method,
            data_layer="synthetic",
            **kw,
        )


def _z_att_gt(r, s):
    truth = s.att_gt.set_index(["cohort", "time"])["att"]
    post = r.att_gt[r.att_gt["post"]].set_index(["cohort", "time"])
    assert set(post.index) == set(truth.index)
    return (post["att"] - truth.reindex(post.index)) / post["se"]


@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_unconditional_pt_recovers_att_gt(control, base_period):
    s = sim(0.0)
    r = fit(0.0, (), control=control, base_period=base_period)
    z = _z_att_gt(r, s)
    assert z.abs().max() < Z_MAX
    # simple and dynamic aggregates
    assert abs(r.att - s.true_simple()) / r.se < Z_MAX
    dyn = r["dynamic"].by.set_index("event")
    td = s.true_dynamic()
    zd = (dyn.loc[td.index, "att"] - td) / dyn.loc[td.index, "se"]
    assert zd.abs().max() < Z_MAX
    # pre-treatment placebo effects are zero and the pre-test does not reject
    pre = r.att_gt[(~r.att_gt["post"]) & r.att_gt["se"].notna()]
    assert (pre["att"].abs() / pre["se"]).max() < Z_MAX
    assert r.pretest["p_value"] > 0.001


def test_group_and_calendar_aggregates_recover_truth():
    s = sim(0.0)
    r = fit(0.0, ())
    truth = s.att_gt
    sizes = s.data.groupby("cohort")["unit"].nunique()
    grp = r["group"].by.set_index("cohort")
    for g, a in truth.groupby("cohort"):
        assert abs(grp.loc[g, "att"] - a["att"].mean()) / grp.loc[g, "se"] < Z_MAX
    cal = r["calendar"].by.set_index("time")
    for t, a in truth.groupby("time"):
        tt = np.average(a["att"], weights=a["cohort"].map(sizes))
        assert abs(cal.loc[t, "att"] - tt) / cal.loc[t, "se"] < Z_MAX


@pytest.mark.parametrize("est_method", ["dr", "ipw", "reg"])
def test_conditional_pt_needs_covariates(est_method):
    s = sim(2.0)
    with_x = fit(2.0, ("x",), est_method)
    z = _z_att_gt(with_x, s)
    assert z.abs().max() < Z_MAX
    assert abs(with_x.att - s.true_simple()) / with_x.se < 3.0
    assert with_x.pretest["p_value"] > 0.001
    # the unconditional estimator is biased (x-specific trends + selection on x)
    without = fit(2.0, (), est_method)
    assert abs(without.att - s.true_simple()) / without.se > 5.0
    assert without.pretest["p_value"] < 1e-6


def test_cluster_robust_se_and_info():
    r = fit(0.0, (), cluster="cluster")
    r0 = fit(0.0, ())
    np.testing.assert_allclose(r.att_gt["att"], r0.att_gt["att"])
    assert r.info["cluster"] == "cluster"
    assert r.info["n_clusters"] == 400
    assert "cluster-robust" in r.info["se_type"]
    assert r.info["data_layer"] == "synthetic"
    # clusters are random groups of units: clustered SEs are of the same size
    ratio = (r.att_gt["se"] / r0.att_gt["se"]).dropna()
    assert ratio.between(0.75, 1.3).all()


def test_anticipation_shifts_base_period():
    s = sim(0.0)
    r = fit(0.0, (), anticipation=1)
    gt = r.att_gt.set_index(["cohort", "time"])
    # the base period of cohort g is g - 1 - anticipation for t >= g - anticipation
    assert gt.loc[(5, 5), "base"] == 3
    assert gt.loc[(5, 4), "base"] == 3
    # no anticipation in the DGP: the effects are still recovered
    z = _z_att_gt(r, s)
    assert z.abs().max() < Z_MAX
