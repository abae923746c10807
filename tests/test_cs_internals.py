"""Internal identities of the CS implementation and the result contract."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.estimators import cs
from analysis.inference.vcov import wald_test
from analysis.results import DiDResult

KW = dict(outcome="y", unit="unit", time="time", cohort="cohort")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_staggered(
        n_units=800,
        n_periods=6,
        cohorts=(3, 4, 6),
        base_effect=(1.0, 2.0, 0.5),
        slope=0.4,
        beta_x=0.7,
        seed=9,
    ).data


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_closed_form_equals_drdid_with_intercept_only(method):
    rng = np.random.default_rng(0)
    n1 = 500
    d = (rng.random(n1) < 0.3).astype(float)
    dy = rng.normal(size=n1) + d
    x = np.ones((n1, 1))
    ps = None
    if method != "reg":
        ps, conv = cs._logit(d, x)
        assert conv
        np.testing.assert_allclose(ps, d.mean(), rtol=1e-12)
    att, inf = cs._two_by_two_cov(dy, d, x, method, ps)
    mt, mc = dy[d == 1].mean(), dy[d == 0].mean()
    assert att == pytest.approx(mt - mc, abs=1e-12)
    closed = np.where(d == 1, (dy - mt) * n1 / d.sum(), -(dy - mc) * n1 / (n1 - d.sum()))
    np.testing.assert_allclose(inf, closed, atol=1e-10)


def test_logit_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(400), rng.normal(size=(400, 2))])
    d = (rng.random(400) < 1 / (1 + np.exp(-(0.3 + x[:, 1] - 0.5 * x[:, 2])))).astype(float)
    p, conv = cs._logit(d, x)
    ref = sm.GLM(d, x, family=sm.families.Binomial()).fit(tol=1e-12)
    assert conv
    np.testing.assert_allclose(p, ref.fittedvalues, rtol=1e-9)


def _r_style_wif(keepers, pg, unit_g, group):
    """R did's ``wif`` written out literally (numerator and denominator terms)."""
    s = pg[keepers].sum()
    if1 = np.column_stack([((unit_g == group[k]) - pg[k]) / s for k in keepers])
    tot = np.column_stack([(unit_g == group[k]) - pg[k] for k in keepers]).sum(axis=1)
    if2 = np.outer(tot, pg[keepers] / s**2)
    return if1 - if2


def test_aggregate_influence_functions_match_r_formulas(panel):
    design = cs._build_design(
        panel, **KW, covariates=(), cluster=None, control="never", anticipation=0
    )
    cells = cs._cells(design, "varying", 0)
    cr = cs._estimate_cells(design, cells, control="never", est_method="dr", anticipation=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = cs.callaway_santanna(panel, **KW)
    n = design.n
    cg = np.array([c.g for c in cells])
    ct = design.times[[c.t for c in cells]]
    pg_by = {g: np.mean(design.g == g) for g in design.glist}
    pg = np.array([pg_by[g] for g in cg])
    att, psi = cr.att, cr.psi
    # simple
    keep = np.flatnonzero(cg <= ct)
    w = pg[keep] / pg[keep].sum()
    inf = psi[:, keep] @ w + _r_style_wif(keep, pg, design.g, cg) @ att[keep]
    assert r.att == pytest.approx(w @ att[keep], abs=1e-14)
    assert r.se == pytest.approx(np.sqrt(np.mean(inf**2) / n), rel=1e-10)
    # dynamic, every event time
    dyn = r["dynamic"].by.set_index("event")
    for e in dyn.index:
        k = np.flatnonzero(ct - cg == e)
        w = pg[k] / pg[k].sum()
        inf = psi[:, k] @ w + _r_style_wif(k, pg, design.g, cg) @ att[k]
        assert dyn.loc[e, "att"] == pytest.approx(w @ att[k], abs=1e-14)
        assert dyn.loc[e, "se"] == pytest.approx(np.sqrt(np.mean(inf**2) / n), rel=1e-10)
    # group overall with the distinct-cohort weight influence function (R did >= PR #223)
    glist = design.glist
    th_g, inf_g = [], []
    for g in glist:
        k = np.flatnonzero((cg == g) & (cg <= ct))
        th_g.append(att[k].mean())
        inf_g.append(psi[:, k].mean(axis=1))
    pgg = np.array([pg_by[g] for g in glist])
    wif = _r_style_wif(np.arange(glist.size), pgg, design.g, glist)
    inf = np.column_stack(inf_g) @ (pgg / pgg.sum()) + wif @ np.array(th_g)
    assert r["group"].se == pytest.approx(np.sqrt(np.mean(inf**2) / n), rel=1e-10)
    assert abs(inf.mean()) < 1e-12  # mean-zero (the R < PR #223 version was not)


def test_result_contract(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = cs.callaway_santanna(panel, **KW, covariates=["x"], data_layer="synthetic")
    assert isinstance(r, DiDResult) and r.method == "cs"
    assert set(r.aggregates) == {"simple", "group", "dynamic", "calendar"}
    d = r.to_dict(provenance={"seed": None})
    json.dumps(d)
    assert d["control"] == "never" and d["est_method"] == "dr"
    assert {"cohort", "time", "att", "se"} <= set(d["att_gt"][0])
    assert [b["event"] for b in d["aggregates"]["dynamic"]["by"]][:2] == [-4, -3]
    assert d["pretest"]["df"] == len(r.att_gt[~r.att_gt["post"]])
    tidy = r.tidy()
    assert set(tidy["aggregation"]) >= {"att_gt", "simple", "group", "dynamic", "calendar"}
    assert "Comparison group: never" in r.summary()
    for key in (
        "control",
        "est_method",
        "se_type",
        "cluster",
        "n_clusters",
        "alpha",
        "base_period",
        "anticipation",
        "seed",
        "n_boot",
        "panel_handling",
        "n_units_dropped",
        "data_layer",
    ):
        assert key in r.info, key
    v = r["dynamic"].vcov
    assert v.shape == (len(r["dynamic"].by),) * 2
    np.testing.assert_allclose(np.sqrt(np.diag(v)), r["dynamic"].by["se"].fillna(0), rtol=1e-10)


def test_max_event_limits_aggregations(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = cs.callaway_santanna(panel, **KW)
        lim = cs.callaway_santanna(panel, **KW, max_event=1)
    assert lim["dynamic"].by["event"].max() == 1
    gt = full.att_gt
    post = gt[gt["post"] & (gt["event"] <= 1)]
    sizes = panel.groupby("cohort")["unit"].nunique()
    expected = np.average(post["att"], weights=post["cohort"].map(sizes))
    assert lim.att == pytest.approx(expected, abs=1e-12)
    assert list(lim["calendar"].by["time"]) == list(full["calendar"].by["time"])


def test_wald_singular_note():
    wt = wald_test(np.array([1.0, 1.0]), np.array([[1.0, 1.0], [1.0, 1.0]]))
    assert np.isnan(wt.stat) and "singular" in wt.note
    wt = wald_test(np.array([1.0, 2.0]), np.eye(2))
    assert wt.stat == pytest.approx(5.0) and wt.df == 2


def test_na_cell_is_reported_and_left_out():
    """Cells failing R's trimming/overlap guards are NA, warned about and not aggregated."""
    rng = np.random.default_rng(0)
    g = np.r_[np.full(300, 2), np.full(300, 4), [0]]  # a single never-treated unit
    n, t = g.size, 5
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), t),
            "time": np.tile(np.arange(1, t + 1), n),
            "cohort": np.repeat(g, t),
        }
    )
    df["y"] = rng.normal(size=len(df)) + (df["time"] >= df["cohort"]) * (df["cohort"] > 0)
    with pytest.warns(UserWarning) as rec:
        r = cs.callaway_santanna(df, **KW, control="notyet")
    assert any("trimmed" in str(w.message) for w in rec)
    gt = r.att_gt.set_index(["cohort", "time"])
    # cohort 4 after treatment: only the never-treated unit is left -> p = 300/301 >= 0.995
    assert np.isnan(gt.loc[(4, 4), "att"]) and np.isnan(gt.loc[(4, 5), "se"])
    assert np.isfinite(gt.loc[(2, 3), "att"])
    assert list(r["group"].by["cohort"]) == [2]
    assert any("left out of the aggregations" in m for m in r.info["notes"])
    # the outcome-regression estimator has no propensity score and estimates them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rr = cs.callaway_santanna(df, **KW, control="notyet", est_method="reg")
    assert np.isfinite(rr.att_gt.set_index(["cohort", "time"]).loc[(4, 4), "att"])
